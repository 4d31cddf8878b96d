#!/usr/bin/env bash
# Media ACKs consumed in the kernel (docs/fast-path.md "Media ACKs in the
# kernel"): moq-relayd --fast-path on, 4 subscribers, 2% loss towards sub1.
# Every subscriber byte-exact, no connection closed with an error, most
# packets the subscribers sent (ACK and ACK + PING) were consumed by tc/subscriber_ingress
# (moq_stats ack_consumed against sub_rx), the agent still retransmitted
# on the lossy link (the consumed ACKs reached its tracker) and no
# subscriber stalled (largest gap between objects, from moq-sub's JSON).
# FP_ACKS_QLOG=DIR keeps qlog files of the relay and the subscribers;
# ACKS_SUBS (4), ACKS_RATE (500), ACKS_SIZE (1000), ACKS_COUNT (5000),
# ACKS_LOSS (2, % towards sub1) change the load.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
NSUB=${ACKS_SUBS:-4}
testbed_up "$NSUB"
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

fp_field() { grep -o "fastpath subs=.*" "$TMP/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | tr -d '%'; }
sub_ip() { local v=RELAY_IP4_SUB_$1; echo "${!v}"; }
R_SUB_RX=$(fp_reason_index sub_rx)
R_ACK=$(fp_reason_index ack_consumed)
QARGS=() SQ=()
if [ -n "${FP_ACKS_QLOG:-}" ]; then
	mkdir -p "$FP_ACKS_QLOG"
	QARGS=(--qlog-dir "$FP_ACKS_QLOG")
fi

[ "${ACKS_LOSS:-2}" = 0 ] || tb loss sub1 "${ACKS_LOSS:-2}"
fp_relay acks --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 --ctl-socket none "${QARGS[@]}"
start_pub acks-pub pub --plaintext --rate "${ACKS_RATE:-500}" --object-size "${ACKS_SIZE:-1000}" \
	--objects-per-group 25 --track test "$RELAY_IP4:4443"
wait_announce acks
pids=()
for i in $(seq 1 "$NSUB"); do
	[ -n "${FP_ACKS_QLOG:-}" ] && mkdir -p "$FP_ACKS_QLOG/sub$i" && SQ=(--qlog-dir "$FP_ACKS_QLOG/sub$i")
	start_sub acks-s$i "sub$i" --plaintext --count "${ACKS_COUNT:-5000}" --connect-timeout 5 "${SQ[@]}" "$(sub_ip "$i"):4443"
	pids+=("$SUB_PID")
done
for p in "${pids[@]}"; do wait_exit "$p" 60 "a subscriber"; done
for i in $(seq 1 "$NSUB"); do
	log "acks-s$i: latency max $(jget "$TMP/acks-s$i.json" .latency_us.max) us, p99 $(jget "$TMP/acks-s$i.json" .latency_us.p99) us"
done
for i in $(seq 1 "$NSUB"); do expect_intact acks-s$i; done
fp_next_stats acks
rx=$(fp_stat 2 "$R_SUB_RX")
ack=$(fp_stat 2 "$R_ACK")
rt=$(fp_field acks retransmits)
log "subscriber packets: $ack consumed in the kernel, $rx passed to the agent; retransmits $rt"
grep -o "fastpath subs=.*" "$TMP/acks.log" | tail -1
[ "$ack" -gt 0 ] || die "no media ACK consumed in the kernel"
# on this LAN ngtcp2 1.11 adds a PING to every other ACK-only packet on both
# ends; ACK + PING packets are consumed too (their PINGs fed to ngtcp2 by
# the agent: ack_pings), the ACKs of the relay's own ack-eliciting packets
# and those of a slot whose gate runs low still reach ngtcp2: 65-90 % here
# (25 % when ACK + PING packets passed)
pings=$(fp_field acks ack_pings)
[ "$pings" -gt 0 ] || die "no PING of a consumed packet fed to ngtcp2"
[ "$(fp_field acks ack_ping_errors)" = 0 ] || die "ngtcp2 refused a fed PING"
# the agent holds those PINGs within the max_ack_delay it advertised
# (100 ms with the fast path) and feeds them together: one ACK of the
# relay answers several (at 500 packets/s a subscriber PINGs every few ms)
batches=$(fp_field acks ping_batches)
log "PINGs fed: $pings in $batches batches"
[ "$batches" -gt 0 ] || die "no held PING fed"
[ "$pings" -ge $((batches * 3)) ] || die "held PINGs were not fed together: $pings in $batches feeds"
# (held PINGs are answered by the agent's own ACK when their hold ends,
# fastpath_pingack.sh, or ride with ngtcp2's ACK of a packet that reached
# it; the subscribers return stream credit in batches, so their
# MAX_STREAMS no longer reach ngtcp2 once per group)
log "held PINGs answered by the agent's own ACK: $(fp_field acks ping_acks) of $batches batches"
# ACK + PING packets the kernel passed (their ACK covers a guarded number):
# the agent takes their PING (fp_conn_take_ping), ngtcp2 reads the ACK only
taken=$(fp_field acks pings_taken)
log "PINGs taken from packets that reached the agent: $taken"
[ "${taken:-0}" -gt 0 ] || die "no PING taken from an ACK + PING that reached the agent"
[ $((ack * 100)) -ge $(((ack + rx) * 45)) ] || die "only $ack of $((ack + rx)) subscriber packets consumed"
[ "${ACKS_LOSS:-2}" = 0 ] || [ "$rt" -gt 0 ] ||
	die "loss but no retransmission: consumed ACKs did not reach the tracker?"
! grep -E "closed \(code 0x[1-9a-f]|PROTOCOL_VIOLATION|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" "$TMP/acks.log" ||
	die "a connection was closed with an error"
for i in $(seq 1 "$NSUB"); do
	grep -q '"exit_code":0' "$TMP/acks-s$i.json" || die "acks-s$i: exit code not 0"
done
stop "$PUB_PID"
stop "$RELAY_PID"
log "PASS"
