/* fp_event: the check of one ring-buffer record (fp_event.h). */
#include "fp_event.h"

#include <string.h>

#define QUIC_MAX (1ull << 62) /* stream offsets, ids and packet numbers */
#define PKT_MAX 65535u	      /* an skb the programs handle (no GSO) */

enum fp_event_check fp_event_check(const void *data, size_t sz, struct moq_event *out)
{
	struct moq_event ev;

	if (!data || sz < sizeof(ev))
		return FP_EV_SHORT;
	memcpy(&ev, data, sizeof(ev));
	*out = ev;
	if (ev.slot >= MOQ_MAX_SUBSCRIBERS)
		return FP_EV_SLOT;
	if (ev.prog >= MOQ_PROG_MAX || ev.reason >= MOQ_R_MAX || ev.verdict > MOQ_V_DROPPED ||
	    ev.kind > MOQ_EV_KIND_DATAGRAM || ev.fin > 1)
		return FP_EV_ENUM;
	if (ev.wire_len > PKT_MAX || ev.data_len > ev.wire_len || ev.pn >= QUIC_MAX)
		return FP_EV_RANGE;
	if (ev.kind == MOQ_EV_KIND_STREAM &&
	    (ev.up_stream_id >= QUIC_MAX || ev.offset >= QUIC_MAX - ev.data_len ||
	     (ev.down_stream_id >= QUIC_MAX && ev.down_stream_id != MOQ_DS_NONE)))
		return FP_EV_RANGE;
	return FP_EV_OK;
}

const char *fp_event_check_str(enum fp_event_check c)
{
	static const char *const s[FP_EV_MAX] = {
	    [FP_EV_OK] = "ok",
	    [FP_EV_SHORT] = "record shorter than struct moq_event",
	    [FP_EV_SLOT] = "slot out of range",
	    [FP_EV_ENUM] = "prog, reason, verdict, kind or fin out of range",
	    [FP_EV_RANGE] = "offset, length, stream id or packet number out of range",
	};

	return c < FP_EV_MAX ? s[c] : "?";
}
