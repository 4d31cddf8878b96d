#!/usr/bin/env bash
# moq-relayd --fast-path on keeps a bounded amount of upstream stream bytes
# (issue 17 finding 3): the raw bytes it keeps for gap fills and
# retransmissions (relayd_fp_raw) are bounded per stream
# (--fast-path-stream-bytes) and in total (--fast-path-raw-bytes), however
# long a subgroup runs.
#  1. defaults (4M per stream): one endless subgroup of ~20 MB at 2.5 MB/s;
#     the relay's raw_bytes (stats line) stays under 4 MiB (it grew to
#     32 MiB before) and the subscriber gets every object intact;
#  2. --fast-path-stream-bytes 256k: a subscriber shaped to 8 Mbit/s
#     falls behind the stream; the bytes it needs are evicted, so its
#     stream is reset TOO_FAR_BEHIND (raw_gone_resets, the metric) instead
#     of the relay growing; the unshaped subscriber stays intact and no
#     connection closes with an error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 2
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
RARGS=(--listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 --ctl-socket none)
PARGS=(--plaintext --rate 250 --object-size 10000 --objects-per-group 1000000 --track test)
sub_ip() { local v=RELAY_IP4_SUB_$1; echo "${!v}"; }
# largest value of FIELD over the relay's stats lines
fp_max() { grep -o "fastpath subs=.*" "$TMP/$1.log" | tr ' ' '\n' | sed -n "s/^$2=//p" | sort -n | tail -1; }

# ---- 1. defaults ----
log "phase 1: one 20 MB subgroup at 2.5 MB/s, default bounds"
fp_relay big "${RARGS[@]}"
start_pub big-pub pub "${PARGS[@]}" "$RELAY_IP4:4443"
wait_announce big
start_sub big-s1 sub1 --plaintext --duration 9 --connect-timeout 5 "$(sub_ip 1):4443"
wait_exit "$SUB_PID" 30 "the phase-1 subscriber"
expect_intact big-s1
n=$(jget "$TMP/big-s1.json" .objects_received)
[ "$n" -gt 1500 ] || die "phase 1: only $n objects arrived (the stream did not run)"
grep -q "not on the fast path" "$TMP/big.log" && die "phase 1: the subscriber fell back to userspace"
max=$(fp_max big raw_bytes)
log "phase 1: $n objects ($((n * 10)) kB in one subgroup), largest raw_bytes $max"
[ -n "$max" ] || die "phase 1: no fastpath stats line"
[ "$max" -le $((4 << 20)) ] || die "phase 1: raw_bytes $max over the 4 MiB per-stream default"
[ "$(fp_max big raw_evicted)" -gt 0 ] || die "phase 1: no byte was evicted from a 20 MB stream"
stop "$PUB_PID"
stop "$RELAY_PID"

# ---- 2. a subscriber that needs evicted bytes ----
log "phase 2: --fast-path-stream-bytes 256k, sub2 shaped to 8 Mbit/s"
tb shape sub2 8mbit >/dev/null
fp_relay small "${RARGS[@]}" --fast-path-stream-bytes 256k --fast-path-raw-bytes 1M \
	--metrics-listen "$RELAY_IP4:9464"
start_pub small-pub pub "${PARGS[@]}" "$RELAY_IP4:4443"
wait_announce small
pids=()
for i in 1 2; do
	start_sub small-s$i "sub$i" --plaintext --duration 8 --connect-timeout 5 "$(sub_ip "$i"):4443"
	pids+=("$SUB_PID")
done
for p in "${pids[@]}"; do wait_exit "$p" 30 "a phase-2 subscriber"; done
metrics=$(on relay curl -s "http://$RELAY_IP4:9464/metrics")
expect_intact small-s1
f=$TMP/small-s2.json
jq -c '{objects_received, integrity_errors, exit_code, t: .tracks[0] | {streams_reset}}' "$f"
[ "$(jget "$f" .integrity_errors)" = 0 ] || die "phase 2: the shaped subscriber got integrity errors"
[ "$(jget "$f" .tracks[0].streams_reset)" -gt 0 ] || die "phase 2: the shaped subscriber's stream was not reset"
max=$(fp_max small raw_bytes)
log "phase 2: largest raw_bytes $max, gone resets $(fp_max small raw_gone_resets)"
[ "$max" -le $((1 << 20)) ] || die "phase 2: raw_bytes $max over --fast-path-raw-bytes 1M"
[ "$(fp_max small raw_gone_resets)" -gt 0 ] || die "phase 2: no stream was reset for evicted bytes"
g=$(sed -n 's/^moq_relay_fp_raw_gone_resets_total \([0-9]*\)$/\1/p' <<<"$metrics")
e=$(sed -n 's/^moq_relay_fp_raw_evicted_bytes_total \([0-9]*\)$/\1/p' <<<"$metrics")
[ "${g:-0}" -gt 0 ] && [ "${e:-0}" -gt 0 ] || die "phase 2: metrics do not count the evictions (gone=$g evicted=$e)"
grep -q "TOO_FAR_BEHIND\|0x5" "$TMP/small-s2.log" "$f" 2>/dev/null || log "(the subscriber does not log reset codes)"
! grep -E "closed \(code 0x[1-9a-f]|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" "$TMP/small.log" ||
	die "phase 2: a connection closed with an error"
kill -0 "$RELAY_PID" || die "phase 2: the relay died"
log "PASS fastpath_raw_bound"
