// SPDX-License-Identifier: MIT
/* mapcount - print the number of entries of each pinned BPF hash map given,
 * one number per line, by walking its keys (bpf_map_get_next_key). A quarter
 * million entries take a fraction of a second, where `bpftool -j map dump |
 * jq length` takes seconds. Built and run by tests/soak/soak.sh:
 *
 *   cc -O2 -o mapcount tests/soak/mapcount.c -lbpf
 *   mapcount /sys/fs/bpf/.../moq_down_streams ...
 *
 * A map that cannot be opened prints "NA" and makes the exit status 1. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long count_entries(const char *pin)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	unsigned char *k = NULL, *nk = NULL;
	long n = -1;
	int fd;

	fd = bpf_obj_get(pin);
	if (fd < 0) {
		fprintf(stderr, "mapcount: %s: %s\n", pin, strerror(errno));
		return -1;
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "mapcount: %s: no map info: %s\n", pin, strerror(errno));
		goto out;
	}
	k = calloc(1, info.key_size);
	nk = calloc(1, info.key_size);
	if (!k || !nk)
		goto out;
	n = 0;
	if (bpf_map_get_next_key(fd, NULL, nk))
		goto out; /* empty */
	do {
		n++;
		memcpy(k, nk, info.key_size);
		/* bound: a map rewritten while walked could restart the walk */
	} while (n <= (long)info.max_entries && !bpf_map_get_next_key(fd, k, nk));
out:
	free(k);
	free(nk);
	close(fd);
	return n;
}

int main(int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		long n = count_entries(argv[i]);

		if (n < 0) {
			puts("NA");
			rc = 1;
		} else {
			printf("%ld\n", n);
		}
	}
	return rc;
}
