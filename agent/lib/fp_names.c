/* fp_names: program and reason names (fp_names.h). */
#include "fp_names.h"

#include "moq_maps.h"

static const char *const prog_names[MOQ_PROG_MAX] = {
    [MOQ_PROG_UPSTREAM_INGRESS] = "upstream_ingress",
    [MOQ_PROG_SUBSCRIBER_EGRESS] = "subscriber_egress",
    [MOQ_PROG_SUBSCRIBER_INGRESS] = "subscriber_ingress",
};

static const char *const reason_names[MOQ_R_MAX] = {
    [MOQ_R_FORWARDED] = "forwarded",
    [MOQ_R_STALE_AGENT] = "stale_agent",
    [MOQ_R_NOT_IP] = "not_ip",
    [MOQ_R_IP_OPTIONS] = "ip_options",
    [MOQ_R_NOT_UDP] = "not_udp",
    [MOQ_R_WRONG_PORT] = "wrong_port",
    [MOQ_R_TRUNCATED] = "truncated",
    [MOQ_R_LONG_HEADER] = "long_header",
    [MOQ_R_NOT_PLAINTEXT] = "not_plaintext",
    [MOQ_R_PN_LEN] = "pn_len",
    [MOQ_R_UNKNOWN_DCID] = "unknown_dcid",
    [MOQ_R_WRONG_SOURCE] = "wrong_source",
    [MOQ_R_BAD_VARINT] = "bad_varint",
    [MOQ_R_BAD_FRAME] = "bad_frame",
    [MOQ_R_TOO_MANY_FRAMES] = "too_many_frames",
    [MOQ_R_ACK_RANGES] = "ack_ranges",
    [MOQ_R_NO_MEDIA_FRAME] = "no_media_frame",
    [MOQ_R_TRAILING_FRAME] = "trailing_frame",
    [MOQ_R_NOT_CLIENT_UNI] = "not_client_uni",
    [MOQ_R_STREAM_ID_WIDTH] = "stream_id_width",
    [MOQ_R_BAD_SUBGROUP_HEADER] = "bad_subgroup_header",
    [MOQ_R_BAD_DATAGRAM] = "bad_datagram",
    [MOQ_R_STREAM_START_UNSEEN] = "stream_start_unseen",
    [MOQ_R_NO_SUBSCRIBERS] = "no_subscribers",
    [MOQ_R_MTU] = "mtu",
    [MOQ_R_REDIRECT_FAILED] = "redirect_failed",
    [MOQ_R_SUB_INACTIVE] = "sub_inactive",
    [MOQ_R_FAMILY_MISMATCH] = "family_mismatch",
    [MOQ_R_NOT_MARKED] = "not_marked",
    [MOQ_R_NO_SUBSCRIPTION] = "no_subscription",
    [MOQ_R_GATE_DROP] = "gate_drop",
    [MOQ_R_STREAM_RESET] = "stream_reset",
    [MOQ_R_STREAM_UNMAPPED] = "stream_unmapped",
    [MOQ_R_STREAM_LIMIT] = "stream_limit",
    [MOQ_R_ALIAS_WIDTH] = "alias_width",
    [MOQ_R_REWRITE_FAILED] = "rewrite_failed",
    [MOQ_R_SUB_RX] = "sub_rx",
    [MOQ_R_SUB_UNKNOWN] = "sub_unknown",
    [MOQ_R_NO_L2] = "no_l2",
    [MOQ_R_GSO] = "gso",
    [MOQ_R_HEADER_BITS] = "header_bits",
    [MOQ_R_EVENT_LOST] = "event_lost",
    [MOQ_R_BEFORE_START] = "before_start",
};
/* A new reason in moq_maps.h must get a name here. */
_Static_assert(MOQ_R_BEFORE_START + 1 == MOQ_R_MAX, "name every enum moq_reason in reason_names");
_Static_assert(MOQ_PROG_SUBSCRIBER_INGRESS + 1 == MOQ_PROG_MAX, "name every enum moq_prog in prog_names");

const char *fp_prog_name(unsigned prog)
{
	return prog < MOQ_PROG_MAX && prog_names[prog] ? prog_names[prog] : "?";
}

const char *fp_reason_name(unsigned reason)
{
	return reason < MOQ_R_MAX && reason_names[reason] ? reason_names[reason] : "?";
}
