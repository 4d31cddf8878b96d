/* fp_keys: placeholder until the kernel crypto lands (every call fails with
 * -ENOSYS, so the agent keeps TLS connections in userspace). */
#include "fp_keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int fp_keys_open(struct fp_keys *k, const char *pin_dir, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	k->keys_fd = k->sel_fd = k->prog_fd = -1;
	if (err && errlen)
		snprintf(err, errlen, "kernel TLS keys not implemented");
	return -ENOSYS;
}

void fp_keys_close(struct fp_keys *k)
{
}

int fp_keys_set_sub(struct fp_keys *k, uint32_t slot, const struct fp_tls_key *key)
{
	return -ENOSYS;
}

int fp_keys_wipe_sub(struct fp_keys *k, uint32_t slot)
{
	return -ENOSYS;
}

int fp_keys_set_up(struct fp_keys *k, uint32_t conn_id, const struct fp_tls_key *key)
{
	return -ENOSYS;
}

int fp_keys_wipe_up(struct fp_keys *k, uint32_t conn_id)
{
	return -ENOSYS;
}
