/* quic_proxy: see quic_proxy.h. */
#include "quic_proxy.h"

#include <arpa/inet.h>
#include <check.h>
#include <string.h>
#include <sys/socket.h>

uint8_t tq_pattern(int64_t sid, uint64_t off)
{
	return (uint8_t)(off * 31 + (uint64_t)sid * 7 + (off >> 9));
}

int tq_loopback_sock(struct sockaddr_in *a)
{
	socklen_t al = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)a, &al), 0);
	return fd;
}
