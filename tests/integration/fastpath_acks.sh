#!/usr/bin/env bash
# Media ACKs consumed in the kernel (docs/fast-path.md "Media ACKs in the
# kernel"): moq-relayd --fast-path on, 4 subscribers, 2% loss towards sub1.
# Every subscriber byte-exact, no connection closed with an error, most
# packets the subscribers sent were consumed by tc/subscriber_ingress
# (moq_stats ack_consumed against sub_rx), the agent still retransmitted
# on the lossy link (the consumed ACKs reached its tracker) and no
# subscriber stalled (largest gap between objects, from moq-sub's JSON).
# FP_ACKS_QLOG=DIR keeps qlog files of the relay and the subscribers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 4
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

fp_field() { grep -o "fastpath subs=.*" "$TMP/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | tr -d '%'; }
sub_ip() { local v=RELAY_IP4_SUB_$1; echo "${!v}"; }
R_SUB_RX=$(grep -o 'X([A-Z_0-9]*' "$ROOT/tc-progs/moq_maps.h" | sed -n '/X(FORWARDED/,$p' | grep -n 'X(SUB_RX$' | cut -d: -f1)
R_ACK=$(grep -o 'X([A-Z_0-9]*' "$ROOT/tc-progs/moq_maps.h" | sed -n '/X(FORWARDED/,$p' | grep -n 'X(ACK_CONSUMED$' | cut -d: -f1)
[ -n "$R_SUB_RX" ] && [ -n "$R_ACK" ] || die "reasons SUB_RX / ACK_CONSUMED not found in moq_maps.h"
R_SUB_RX=$((R_SUB_RX - 1)) R_ACK=$((R_ACK - 1))
QARGS=() SQ=()
if [ -n "${FP_ACKS_QLOG:-}" ]; then
	mkdir -p "$FP_ACKS_QLOG"
	QARGS=(--qlog-dir "$FP_ACKS_QLOG")
fi

tb loss sub1 2
fp_relay acks --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 --ctl-socket none "${QARGS[@]}"
start_pub acks-pub pub --plaintext --rate 500 --object-size 1000 --objects-per-group 25 --track test "$RELAY_IP4:4443"
wait_announce acks
pids=()
for i in 1 2 3 4; do
	[ -n "${FP_ACKS_QLOG:-}" ] && mkdir -p "$FP_ACKS_QLOG/sub$i" && SQ=(--qlog-dir "$FP_ACKS_QLOG/sub$i")
	start_sub acks-s$i "sub$i" --plaintext --count 5000 --connect-timeout 5 "${SQ[@]}" "$(sub_ip "$i"):4443"
	pids+=("$SUB_PID")
done
for p in "${pids[@]}"; do wait_exit "$p" 45 "a subscriber"; done
for i in 1 2 3 4; do expect_intact acks-s$i; done
sleep 1.2
rx=$(fp_stat 2 "$R_SUB_RX")
ack=$(fp_stat 2 "$R_ACK")
rt=$(fp_field acks retransmits)
log "subscriber packets: $ack consumed in the kernel, $rx passed to the agent; retransmits $rt"
grep -o "fastpath subs=.*" "$TMP/acks.log" | tail -1
[ "$ack" -gt 0 ] || die "no media ACK consumed in the kernel"
# on this LAN ngtcp2 1.11 adds a PING to every other ACK-only packet on both
# ends; those and the ACKs of the relay's must reach ngtcp2: ~25 % here
[ $((ack * 100)) -ge $(((ack + rx) * 15)) ] || die "only $ack of $((ack + rx)) subscriber packets consumed"
[ "$rt" -gt 0 ] || die "2% loss but no retransmission: consumed ACKs did not reach the tracker?"
! grep -E "closed \(code 0x[1-9a-f]|PROTOCOL_VIOLATION|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" "$TMP/acks.log" ||
	die "a connection was closed with an error"
for i in 1 2 3 4; do
	grep -q '"exit_code":0' "$TMP/acks-s$i.json" || die "acks-s$i: exit code not 0"
done
stop "$PUB_PID"
stop "$RELAY_PID"
log "PASS"
