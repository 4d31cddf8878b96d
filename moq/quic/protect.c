/* 1-RTT packet protection in the layer (config.shim_protect) and 1-RTT key
 * capture for every TLS connection (docs/fast-path-tls-quic.md). */
#include "quic/quic_int.h"

#include <errno.h>

int moq_quic_conn_shim_protected(const struct moq_quic_conn *c)
{
	(void)c;
	return 0;
}

int moq_quic_conn_1rtt_keys(const struct moq_quic_conn *c, int tx, int next,
			    struct moq_quic_1rtt_keys *out)
{
	(void)c;
	(void)tx;
	(void)next;
	(void)out;
	return -ENOTSUP;
}

int moq_quic_conn_key_update(struct moq_quic_conn *c)
{
	(void)c;
	return -ENOTSUP;
}
