#!/usr/bin/env bash
# moq-relayd --fast-path on registers in moq_upstreams only the connection
# IDs ngtcp2 currently uses for a publisher's connection (issue 17 finding
# 2e): never the client-chosen original DCID, through which a spoofer
# knowing it could otherwise have packets cloned; and each entry names the
# relay's address as the destination the kernel checks (finding 2d). The relay's qlog files
# are named by each connection's original DCID.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 1
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

QLOG=$TMP/qlog
mkdir -p "$QLOG"
fp_relay cids --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0 \
	--ctl-socket none --qlog-dir "$QLOG"
start_pub cids-pub pub --plaintext --rate 100 --track test "$RELAY_IP4:4443"
wait_announce cids
start_sub cids-s1 sub1 --plaintext --duration 3 --connect-timeout 5 "$RELAY_IP4_SUB_1:4443"
wait_exit "$SUB_PID" 20 "the subscriber"
expect_intact cids-s1
keys=$(bpftool -j map dump pinned "$FP_PIN/moq_upstreams" |
	jq -r '.[].key | if type == "array" then map(ltrimstr("0x")) | join("") else . end')
odcids=$(ls "$QLOG" | sed -n 's/^server-\([0-9a-f]*\)\.sqlog$/\1/p')
log "moq_upstreams: $(echo $keys | wc -w) CIDs; server connections' original DCIDs: $(echo $odcids)"
[ -n "$keys" ] || die "no publisher CID registered"
[ -n "$odcids" ] || die "no server qlog (cannot name the original DCIDs)"
for o in $odcids; do
	for k in $keys; do
		[ "$k" != "$o" ] || die "the original DCID $o is registered in moq_upstreams"
	done
done
# finding 2d: each entry carries the relay's address on the publisher's
# link as the destination the kernel checks (MOQ_UP_F_DADDR)
want=$(printf '%02x' ${RELAY_IP4//./ })
while read -r v; do
	[ $((0x${v:18:2} & 1)) = 1 ] || die "moq_upstreams entry without MOQ_UP_F_DADDR: $v"
	[ "${v:64:8}" = "$want" ] || die "moq_upstreams daddr ${v:64:8}, want $want ($RELAY_IP4)"
done < <(bpftool -j map dump pinned "$FP_PIN/moq_upstreams" | jq -r '.[].value | map(ltrimstr("0x")) | join("")')
log "destinations: every entry checks $RELAY_IP4"
log "PASS fastpath_upstream_cids"
