#!/usr/bin/env bash
# moq-relayd --fast-path on under congestion and churn (netns testbed,
# plaintext):
#  1. one subscriber link shaped below the stream rate: its high-priority
#     subgroup (class 0) keeps arriving complete, the low-priority one
#     (class 1) is reset by the congestion gate, the connection never
#     stalls or closes, and the other subscribers stay byte-exact;
#     1b. the same with the subscriber's OBJECT_DELIVERY_TIMEOUT: the low
#     class queues up to that age (more of it arrives), then is reset with
#     DELIVERY_TIMEOUT;
#  2. 200 join/leave cycles next to a steady subscriber: every short
#     session gets its objects intact; afterwards no slot, subscription,
#     track entry or CID mapping is left over, the relay's memory is flat,
#     and the kernel clones only for the remaining subscriber.
# FP_CYCLES changes the number of cycles.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 3
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

CYCLES=${FP_CYCLES:-200}
# sanitizer build: ASan's quarantine keeps freed memory, so RSS would not
# show whether the relay frees what it should (LeakSanitizer checks that)
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
RARGS=(--listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 --ctl-socket none)
sub_ip() { local v=RELAY_IP4_SUB_$1; echo "${!v}"; }
fp_field() { grep -o "fastpath subs=.*" "$TMP/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | tr -d '%'; }
sgo() { jq -r ".tracks[0].subgroup_objects[$2]" "$TMP/$1.json"; }
map_count() { bpftool -j map dump pinned "$FP_PIN/$1" 2>/dev/null | jq length; }

# ---- 1. shaped link ----
# 500 objects/s of 1000 bytes = 4 Mbit/s of payload, objects alternating
# between subgroup 0 (priority 31: gate class 0) and 1 (priority 32: class 1)
log "phase 1: sub1 shaped to 2.5 Mbit/s, stream ~4.3 Mbit/s on the wire"
tb shape sub1 2500kbit
fp_relay shape "${RARGS[@]}"
start_pub shape-pub pub --plaintext --rate 500 --object-size 1000 --objects-per-group 10 \
	--subgroups-per-group 2 --priority 31 --track test "$RELAY_IP4:4443"
wait_announce shape
pids=()
for i in 1 2 3; do
	start_sub shape-s$i "sub$i" --plaintext --duration 12 --connect-timeout 5 "$(sub_ip "$i"):4443"
	pids+=("$SUB_PID")
done
for p in "${pids[@]}"; do wait_exit "$p" 40 "a phase-1 subscriber"; done
for i in 2 3; do
	f=$TMP/shape-s$i.json
	[ "$(jget "$f" .objects_missing)" = 0 ] && [ "$(jget "$f" .integrity_errors)" = 0 ] &&
		[ "$(jget "$f" .objects_received)" -gt 4000 ] || { cat "$f"; die "shape-s$i (unshaped) not byte-exact"; }
done
f=$TMP/shape-s1.json
cat "$f" | jq -c '{objects_received, integrity_errors, exit_code, t: .tracks[0] | {streams_reset, subgroup_objects}}'
hi1=$(sgo shape-s1 0) lo1=$(sgo shape-s1 1) hi2=$(sgo shape-s2 0) lo2=$(sgo shape-s2 1)
log "phase 1: shaped sub1 got $hi1 high / $lo1 low-priority objects; unshaped sub2 $hi2 / $lo2"
[ "$(jget "$f" .integrity_errors)" = 0 ] || die "shaped subscriber: integrity errors"
[ "$(jget "$f" .exit_code)" = 0 ] || [ "$(jget "$f" .exit_code)" = 1 ] || die "shaped subscriber: connection lost"
[ $((hi1 * 100)) -ge $((hi2 * 97)) ] || die "high-priority subgroup not delivered on the shaped link ($hi1 vs $hi2)"
[ $((lo1 * 100)) -lt $((lo2 * 90)) ] || die "low-priority subgroup not cut on the shaped link ($lo1 vs $lo2)"
[ "$(jget "$f" .tracks[0].streams_reset)" -gt 0 ] || die "no low-priority stream was reset"
! grep -E "closed \(code 0x[1-9a-f]|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" "$TMP/shape.log" ||
	die "a connection closed with an error"
grep -o "fastpath subs=.*" "$TMP/shape.log" | tail -1
stop "$PUB_PID"
stop "$RELAY_PID"
log "phase 1 ok: priorities honoured on the shaped link, others byte-exact"

# ---- 1b. the same link, the subscriber asks for OBJECT_DELIVERY_TIMEOUT ----
# Then the low-priority class queues (behind the high one) instead of being
# reset at the first gate drop: the high class still arrives, nothing older
# than the timeout is sent, and what gets too old is reset with
# DELIVERY_TIMEOUT. (How much more of the low class arrives depends on the
# stream's shape: bench/congestion_video.sh measures it for H.264.)
TO_MS=250
log "phase 1b: the shaped subscriber asks for a ${TO_MS} ms delivery timeout"
fp_relay shapeto "${RARGS[@]}"
start_pub shapeto-pub pub --plaintext --rate 500 --object-size 1000 --objects-per-group 10 \
	--subgroups-per-group 2 --priority 31 --track test "$RELAY_IP4:4443"
wait_announce shapeto
start_sub shapeto-s1 sub1 --plaintext --duration 12 --connect-timeout 5 \
	--delivery-timeout "$TO_MS" "$(sub_ip 1):4443"
pid1=$SUB_PID
start_sub shapeto-s2 sub2 --plaintext --duration 12 --connect-timeout 5 "$(sub_ip 2):4443"
wait_exit "$pid1" 40 "the shaped subscriber"
wait_exit "$SUB_PID" 40 "the unshaped subscriber"
f=$TMP/shapeto-s1.json
jq -c '{objects_received, integrity_errors, exit_code, latency_us, t: .tracks[0] | {streams_reset, resets_delivery_timeout, subgroup_objects}}' "$f"
thi1=$(sgo shapeto-s1 0) tlo1=$(sgo shapeto-s1 1) thi2=$(sgo shapeto-s2 0)
mx=$(jq -r '.latency_us.max' "$f")
log "phase 1b: shaped sub1 got $thi1 high / $tlo1 low-priority objects (without the timeout: $lo1), unshaped sub2 $thi2 high; latency max $mx us"
[ "$(jget "$f" .integrity_errors)" = 0 ] || die "phase 1b: integrity errors"
[ "$(jget "$f" .exit_code)" = 0 ] || [ "$(jget "$f" .exit_code)" = 1 ] || die "phase 1b: connection lost"
[ $((thi1 * 100)) -ge $((thi2 * 97)) ] || die "phase 1b: high-priority subgroup not delivered ($thi1 vs $thi2)"
[ "$tlo1" -gt 0 ] || die "phase 1b: no low-priority object arrived"
[ "$(jget "$f" .tracks[0].resets_delivery_timeout)" -gt 0 ] || die "phase 1b: no stream reset with DELIVERY_TIMEOUT"
# sent no later than the timeout after the relay read it; then at most the
# tbf queue (50 ms) and a retransmission on the way
awk -v p="$mx" -v t="$TO_MS" 'BEGIN { exit !(p / 1000 <= t + 200) }' ||
	die "phase 1b: latency max ${mx} us is above the ${TO_MS} ms timeout + 200 ms"
! grep -E "closed \(code 0x[1-9a-f]|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" "$TMP/shapeto.log" ||
	die "phase 1b: a connection closed with an error"
grep -o "fastpath subs=.*" "$TMP/shapeto.log" | tail -1
tb unshape sub1
stop "$PUB_PID"
stop "$RELAY_PID"
log "phase 1b ok: the low class queued up to the delivery timeout"

# ---- 2. join/leave cycles ----
log "phase 2: $CYCLES join/leave cycles"
fp_relay churn "${RARGS[@]}"
start_pub churn-pub pub --plaintext --rate 400 --object-size 400 --objects-per-group 8 --track test "$RELAY_IP4:4443"
wait_announce churn
start_sub churn-steady sub1 --plaintext --duration 600 --connect-timeout 5 "$(sub_ip 1):4443"
STEADY=$SUB_PID
sleep 1
rss() { awk '/VmRSS/{print $2}' "/proc/$RELAY_PID/status"; }
cid0=$(map_count moq_sub_by_cid)
rss0=$(rss)
for c in $(seq 1 "$CYCLES"); do
	h=$((2 + c % 2))
	out=$(nsenter --net="/run/netns/$(eval echo "\$SUB_NS_$h")" "$SUB" --plaintext --json --quiet --count 4 \
		--connect-timeout 5 "$(sub_ip $h):4443" 2>"$TMP/churn-last.log") ||
		{ echo "$out"; tail -5 "$TMP/churn-last.log"; die "cycle $c: subscriber failed"; }
	[ "$(jq -r .integrity_errors <<<"$out")" = 0 ] && [ "$(jq -r .objects_received <<<"$out")" -ge 4 ] ||
		{ echo "$out"; die "cycle $c: objects not intact"; }
	[ "$c" = 50 ] && rss0=$(rss) # after warm-up (allocator arenas, first slots)
	[ $((c % 50)) = 0 ] && log "  $c cycles, relay RSS $(rss) kB"
done
sleep 1.5 # the last session's state is freed and a stats line printed
rss1=$(rss)
subs=$(fp_field churn subs)
log "phase 2: relay RSS after 50 cycles $rss0 kB, after $CYCLES $rss1 kB; fast subscribers now $subs; sub_by_cid $cid0 -> $(map_count moq_sub_by_cid)"
[ "$subs" = 1 ] || die "$subs fast-path subscribers left (want 1: the steady one)"
[ "$(map_count moq_subscriptions)" = 1 ] || die "moq_subscriptions: $(map_count moq_subscriptions) entries (want 1)"
[ "$(map_count moq_tracks)" = 1 ] || die "moq_tracks: $(map_count moq_tracks) entries (want 1)"
[ "$(map_count moq_sub_by_cid)" = "$cid0" ] || die "moq_sub_by_cid leaked entries"
RSS_BOUND=2048
case "$B" in *san*) RSS_BOUND=6144 ;; esac # ASan's allocator caches and redzones
[ $((rss1 - rss0)) -lt $RSS_BOUND ] || die "relay RSS grew by $((rss1 - rss0)) kB from cycle 50 to $CYCLES"
# no clone for a departed subscriber: slots other than the steady one's (0)
# get nothing more, while slot 0 keeps receiving
o0=$(fp_tx_others 0) t0=$(fp_sub_tx 0)
sleep 1
o1=$(fp_tx_others 0) t1=$(fp_sub_tx 0)
log "phase 2: after the churn: steady subscriber +$((t1 - t0)) packets, every other slot +$((o1 - o0))"
[ $((t1 - t0)) -gt 0 ] && [ "$o1" = "$o0" ] || die "clones for departed subscribers"
stop "$STEADY"
f=$TMP/churn-steady.json
[ "$(jget "$f" .objects_missing)" = 0 ] && [ "$(jget "$f" .integrity_errors)" = 0 ] ||
	{ cat "$f"; die "the steady subscriber lost objects during the churn"; }
! grep -E "closed \(code 0x[1-9a-f]|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" "$TMP/churn.log" ||
	die "a connection closed with an error"
log "PASS"
