/* libFuzzer target: the WebTransport connection layer (moq/wt/wt.c) fed peer
 * stream bytes, resets and datagrams as a server and as a client, its QUIC
 * calls stubbed. Input: a role byte, then records [op, stream, len, bytes].
 * Checks: no crash, no leak (ASan), nothing written beyond what a stub can
 * take, at most one session and one on_ready. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wt/wt.h"
#include "wt/wt_h3.h"

static int ready, accepted;
static int64_t nu, nb;
static size_t written;

static int64_t o_uni(struct moq_quic_conn *c)
{
	return nu += 4;
}
static int64_t o_bidi(struct moq_quic_conn *c)
{
	return nb += 4;
}
static int wr(struct moq_quic_conn *c, int64_t sid, const void *p, size_t n, int fin)
{
	written += n;
	return 0;
}
static int stop(struct moq_quic_conn *c, int64_t sid, uint64_t code)
{
	return 0;
}
static int prio(struct moq_quic_conn *c, int64_t sid, uint32_t pr)
{
	return 0;
}
static int dg(struct moq_quic_conn *c, const void *p, size_t n)
{
	return n > 1200 ? -90 : 0;
}
static size_t maxd(const struct moq_quic_conn *c)
{
	return 1200;
}
static int cl(struct moq_quic_conn *c, uint64_t code, const char *r)
{
	return 0;
}
static const struct moq_wt_quic_ops ops = {o_uni, o_bidi, wr, stop, prio, dg, maxd, cl};

static int on_request(void *arg, const struct moq_h3_msg *req)
{
	accepted++;
	return req->path[1] == 'x' ? 403 : 200;
}
static void on_ready(void *arg)
{
	if (++ready > 1)
		abort();
}
static void on_stream(void *arg, int64_t sid, const uint8_t *p, size_t n, int fin)
{
	volatile uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s ^= p[i];
	(void)s;
}
static void on_closed(void *arg, uint32_t code, const char *reason)
{
	if (strlen(reason) > 255)
		abort();
}
static void on_error(void *arg, uint64_t h3, const char *reason)
{
}
static const struct moq_wt_callbacks cbs = {on_request, on_ready, on_stream, on_closed, on_error};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int server = !(data[0] & 1);
	ready = accepted = 0;
	written = 0;
	nu = server ? -1 : -2;
	nb = server ? -3 : -4;
	struct moq_wt_config cfg = {
	    .server = server, .authority = "a:1", .path = "/p", .max_held = 4096};
	struct moq_wt *w = moq_wt_new((struct moq_quic_conn *)0x1, NULL, &cfg, &cbs, NULL);
	if (!w)
		return 0;
	moq_wt_set_quic_ops(w, &ops);
	moq_wt_start(w);
	size_t i = 1;
	while (i + 3 <= size) {
		uint8_t op = data[i], st = data[i + 1];
		size_t len = data[i + 2];
		i += 3;
		if (len > size - i)
			len = size - i;
		/* peer streams: st picks the index and uni/bidi */
		int64_t sid = (int64_t)(st >> 1) * 4 + ((st & 1) ? 2 : 0) + (server ? 0 : 1);
		switch (op % 8) {
		case 0:
		case 1:
		case 2:
		case 3:
			moq_wt_stream_data(w, sid, data + i, len, 0);
			break;
		case 4:
			moq_wt_stream_data(w, sid, data + i, len, 1);
			break;
		case 5:
			moq_wt_stream_gone(w, sid, op & 8);
			break;
		case 6:
			moq_wt_dgram_strip(w, data + i, len);
			moq_wt_dgram_send(w, data + i, len);
			break;
		default:
			if (moq_wt_is_ready(w)) {
				moq_wt_open_uni(w);
				moq_wt_open_bidi(w);
			}
			if (op & 8)
				moq_wt_close(w, op, "fuzz");
			break;
		}
		i += len;
	}
	moq_wt_free(w);
	return 0;
}
