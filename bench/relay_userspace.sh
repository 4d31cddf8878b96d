#!/usr/bin/env bash
# bench/relay_userspace.sh - moq-relayd's userspace path with 1, 8 and 64
# subscribers on the netns testbed (8 subscriber hosts; with 64 subscribers
# each host runs 8 moq-sub processes). Per subscriber count:
#   direct : moq-pub --listen in the publisher namespace, the subscribers
#            connect to it directly (same links, routed by the relay
#            namespace's kernel, no relay process);
#   relay  : moq-pub -> moq-relayd -> subscribers;
#   strace : the relay run again under `strace -c -f` for syscall counts.
# Reports latency p50/p99 (payload CLOCK_MONOTONIC timestamps; one host),
# the latency the relay adds (relay - direct), relay CPU time per forwarded
# object (utime+stime from /proc) and syscalls per forwarded object, and
# writes docs/results/relay-userspace.md.
#
# Environment: B (build dir), BENCH_SECONDS (8), BENCH_RATE objects/s (50),
# BENCH_SIZE bytes per object (1000), BENCH_COUNTS ("1 8 64"). The default rate keeps
# 64 subscribers plus publisher and relay within 2 vCPUs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SECS=${BENCH_SECONDS:-8}
RATE=${BENCH_RATE:-50}
SIZE=${BENCH_SIZE:-1000}
COUNTS=${BENCH_COUNTS:-1 8 64}
HOSTS=8
P=rb$$
P=${P:0:12}
OUT=$ROOT/docs/results/relay-userspace.md
TMP=$(mktemp -d /tmp/relay-bench.XXXXXX)

bench_need bin/moq-relayd bin/moq-pub bin/moq-sub -- jq strace
WAITLOG_TRIES=50

bench_traps

bench_testbed_up $HOSTS
PUBARGS=(--plaintext --rate "$RATE" --object-size "$SIZE" --objects-per-group 1 --no-pacing)

# run_subs N TARGET(direct|relay) TAG: N subscribers for SECS, JSON in $TMP/TAG-k.json
run_subs() {
	local n=$1 target=$2 tag=$3 k h addr pids=()
	for k in $(seq 1 "$n"); do
		h=$(((k - 1) % HOSTS + 1))
		if [ "$target" = direct ]; then addr=$PUB_IP4:5000; else addr=$(sub_gw "$h"):4443; fi
		in_ns "$(sub_ns "$h")" "$B/bin/moq-sub" --plaintext --no-pacing --duration "$SECS" --json --quiet \
			"$addr" >"$TMP/$tag-$k.json" 2>"$TMP/$tag-$k.log" &
		pids+=($!)
	done
	PIDS+=("${pids[@]}")
	for k in "${pids[@]}"; do timeout $((SECS + 30)) tail --pid="$k" -f /dev/null || true; done
}

# summarize TAG N -> "p50_median p99_max objects_total missing_total integrity_total"
summarize() {
	local tag=$1 n=$2
	jq -s '{p50: ([.[].latency_us.p50] | sort | .[length/2|floor]),
		p99: ([.[].latency_us.p99] | max),
		objs: ([.[].objects_received] | add), miss: ([.[].objects_missing] | add),
		integ: ([.[].integrity_errors] | add)} | "\(.p50) \(.p99) \(.objs) \(.miss) \(.integ)"' -r \
		$(for k in $(seq 1 "$n"); do echo "$TMP/$tag-$k.json"; done)
}


ROWS=()
for n in $COUNTS; do
	echo "== $n subscriber(s)"
	# direct
	in_ns "$PUB_NS" "$B/bin/moq-pub" "${PUBARGS[@]}" --listen 0.0.0.0:5000 2>"$TMP/pub-d$n.log" &
	pp=$!; PIDS+=($pp)
	waitlog "$TMP/pub-d$n.log" "listening on"
	run_subs "$n" direct "d$n"
	stopwait $pp
	read -r dp50 dp99 dobj dmiss dint <<<"$(summarize "d$n" "$n")"

	# relay
	in_ns "$RELAY_NS" "$B/bin/moq-relayd" --plaintext --listen 0.0.0.0:4443 --log-level info --stats-interval 0 \
		--sub-queue-bytes 16M 2>"$TMP/relay-$n.log" &
	rp=$!; PIDS+=($rp)
	waitlog "$TMP/relay-$n.log" "listening on"
	in_ns "$PUB_NS" "$B/bin/moq-pub" "${PUBARGS[@]}" "$RELAY_IP4:4443" 2>"$TMP/pub-r$n.log" &
	pp=$!; PIDS+=($pp)
	waitlog "$TMP/relay-$n.log" "publishes namespace"
	c0=$(cpu_ticks $rp)
	run_subs "$n" relay "r$n"
	c1=$(cpu_ticks $rp)
	stopwait $pp
	stopwait $rp
	rout=$(grep -o 'objects_out=[0-9]*' "$TMP/relay-$n.log" | tail -1 | cut -d= -f2 || true)
	read -r rp50 rp99 robj rmiss rint <<<"$(summarize "r$n" "$n")"
	cpu_us=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v o="${rout:-0}" 'BEGIN { if (o > 0) printf "%.2f", t / hz * 1e6 / o; else print "?" }')

	# relay under strace -c -f
	in_ns "$RELAY_NS" strace -c -f -o "$TMP/strace-$n.txt" "$B/bin/moq-relayd" --plaintext --listen 0.0.0.0:4443 \
		--log-level info --stats-interval 0 --sub-queue-bytes 16M 2>"$TMP/relay-s$n.log" &
	sp=$!; PIDS+=($sp)
	waitlog "$TMP/relay-s$n.log" "listening on"
	in_ns "$PUB_NS" "$B/bin/moq-pub" "${PUBARGS[@]}" "$RELAY_IP4:4443" 2>"$TMP/pub-s$n.log" &
	pp=$!; PIDS+=($pp)
	waitlog "$TMP/relay-s$n.log" "publishes namespace"
	run_subs "$n" relay "s$n"
	stopwait $pp
	# SIGTERM the relay itself; strace writes its summary when it exits
	kill $(pgrep -P $sp) 2>/dev/null || true
	timeout 10 tail --pid=$sp -f /dev/null || kill -9 $sp 2>/dev/null || true
	sout=$(grep -o 'objects_out=[0-9]*' "$TMP/relay-s$n.log" | tail -1 | cut -d= -f2 || true)
	calls=$(awk '$NF == "total" { print $4 }' "$TMP/strace-$n.txt" 2>/dev/null || true)
	sc=$(awk -v c="${calls:-0}" -v o="${sout:-0}" 'BEGIN { if (o > 0) printf "%.2f", c / o; else print "?" }')
	topcalls=$(awk 'NR > 2 && $1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF ":" $4 }' "$TMP/strace-$n.txt" 2>/dev/null |
		sort -t: -k2 -nr | head -4 | tr '\n' ' ' || true)
	add50=$(awk -v a="$rp50" -v b="$dp50" 'BEGIN { printf "%.0f", a - b }')
	add99=$(awk -v a="$rp99" -v b="$dp99" 'BEGIN { printf "%.0f", a - b }')
	echo "   direct p50 $dp50 p99 $dp99 us | relay p50 $rp50 p99 $rp99 us | +$add50/+$add99 us | cpu $cpu_us us/obj | $sc syscalls/obj ($topcalls)"
	note=""
	awk -v p="$dp99" 'BEGIN { exit !(p > 100000) }' && note=" (host CPU-bound: direct p99 > 100 ms)"
	ROWS+=("| $n$note | $dp50 / $dp99 | $rp50 / $rp99 | $add50 / $add99 | $cpu_us | $sc | ${rout:-?} | $rmiss / $rint | $topcalls |")
	[ "$rint" = 0 ] && [ "$dint" = 0 ] || echo "   WARNING: integrity errors (direct $dint, relay $rint)"
	: "$dobj" "$dmiss" "$robj"
done

{
	echo "# moq-relayd userspace path: latency, CPU and syscalls per forwarded object"
	echo
	echo "Generated by \`bench/relay_userspace.sh\` on $(date -u +%Y-%m-%d) ($(uname -r), $(nproc) vCPUs)."
	echo "Synthetic track: $SIZE-byte objects at $RATE objects/s, one object per group, plaintext"
	echo "profile, ${SECS} s per run, netns testbed with $HOSTS subscriber hosts (64 subscribers ="
	echo "8 moq-sub per host). Latency is publisher send time -> subscriber receive time"
	echo "(CLOCK_MONOTONIC in the payload): the median of the subscribers' p50 and the"
	echo "largest subscriber p99, in microseconds. *Direct* = the same subscribers"
	echo "subscribed to moq-pub --listen over the same links (the relay namespace routes"
	echo "in the kernel), so *added* is what the relay process costs. CPU = relay"
	echo "utime+stime / objects it forwarded; syscalls from a second relay run under"
	echo "\`strace -c -f\` (which slows it, so its latency is not reported). One object per"
	echo "group: a subscriber that joins after the first one starts at the current group,"
	echo "which the relay replays from its cache (moq-pub --listen starts it at the next"
	echo "object instead); with one-object groups the replayed object is at most one object"
	echo "interval old, so cache age does not pollute the latency comparison."
	echo
	echo "| subscribers | direct p50 / p99 (µs) | relay p50 / p99 (µs) | added p50 / p99 (µs) | relay CPU µs / object | syscalls / object | objects forwarded | missing / integrity errors | top syscalls (calls) |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for r in "${ROWS[@]}"; do echo "$r"; done
	echo
	echo "The VM is shared (2 vCPUs; publisher, relay and every moq-sub run on it, and other"
	echo "jobs may too), so p99 values are noisy; rows marked CPU-bound measure an overloaded"
	echo "host rather than the relay. The p50 column is the robust figure: p99 differences"
	echo "between two runs of a few seconds can change sign."
	echo
	echo "How to read it: per forwarded object the relay writes the object into each"
	echo "subscriber's QUIC stream (a copy into that connection's send buffer); the QUIC layer"
	echo "sends one UDP datagram per sendto (no GSO/sendmmsg), reads with recvfrom until EAGAIN"
	echo "and waits in epoll, so syscalls per forwarded object are about one sendto per packet"
	echo "plus the receive side and ACK traffic amortised over the subscribers; CPU per object"
	echo "includes ngtcp2 packet building, ACK processing and timers. A CPU figure that grows"
	echo "with the subscriber count while the host's 2 vCPUs are shared with the publisher and"
	echo "all subscribers means the run was CPU-bound. This is the baseline the BPF fast path"
	echo "(--fast-path on, not built yet) is to be compared against."
} >"$OUT"
echo "wrote $OUT"
