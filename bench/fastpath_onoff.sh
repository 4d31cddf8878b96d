#!/usr/bin/env bash
# bench/fastpath_onoff.sh - moq-relayd --fast-path off vs on, same workload,
# same run (interleaved per subscriber count), on the netns testbed:
#   latency  publisher send -> subscriber receive (CLOCK_MONOTONIC in the
#            payload, one host), median of the subscribers' p50, largest p99;
#   CPU      relay process utime+stime, and the whole machine's softirq time
#            (where the tc programs run), per delivered object;
#   syscalls relay under `strace -c -f` (separate run), per delivered object;
#   share    fast path only: media packets forwarded by the kernel vs the agent.
# Kernel-timestamp latency per packet is bench/latency.sh.
# Writes docs/results/fastpath-onoff.md.
# Environment: B, BENCH_SECONDS (8), BENCH_RATE objects/s (500), BENCH_SIZE (1000),
# BENCH_COUNTS ("1 8 64"), BENCH_OUT (the report file), BENCH_MODES ("off on"; "on"
# alone to compare two builds).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SECS=${BENCH_SECONDS:-8}
RATE=${BENCH_RATE:-500}
SIZE=${BENCH_SIZE:-1000}
COUNTS=${BENCH_COUNTS:-1 8 64}
MODES=${BENCH_MODES:-off on}
HOSTS=8
bench_init fo fp-bench
OUT=${BENCH_OUT:-$ROOT/docs/results/fastpath-onoff.md}

bench_need bin/moq-relayd bin/moq-pub bin/moq-sub tc-progs/relay.bpf.o -- jq strace
WAITLOG_TRIES=50

bench_traps

bench_testbed_up $HOSTS

# the fast path, attached once (private pin root); `off` runs ignore it:
# with no agent heartbeat the programs forward nothing
bench_fast_attach "$OBJ" $HOSTS

PUBARGS=(--plaintext --rate "$RATE" --object-size "$SIZE" --objects-per-group 10)

run_subs() { # N TAG
	local n=$1 tag=$2 k h pids=()
	for k in $(seq 1 "$n"); do
		h=$(((k - 1) % HOSTS + 1))
		in_ns "$(sub_ns "$h")" "$B/bin/moq-sub" --plaintext --duration "$SECS" --json --quiet \
			"$(sub_gw "$h"):4443" >"$TMP/$tag-$k.json" 2>"$TMP/$tag-$k.log" &
		pids+=($!)
	done
	PIDS+=("${pids[@]}")
	for k in "${pids[@]}"; do timeout $((SECS + 30)) tail --pid="$k" -f /dev/null || true; done
}

summarize() { # TAG N -> "p50 p99 objects missing integrity"
	jq -s '{p50: ([.[].latency_us.p50] | sort | .[length/2|floor]),
		p99: ([.[].latency_us.p99] | max),
		objs: ([.[].objects_received] | add), miss: ([.[].objects_missing] | add),
		integ: ([.[].integrity_errors] | add)} | "\(.p50) \(.p99) \(.objs) \(.miss) \(.integ)"' -r \
		$(for k in $(seq 1 "$2"); do echo "$TMP/$1-$k.json"; done)
}
softirq_ticks() { awk '/^cpu / { print $8 }' /proc/stat; }
# voluntary + involuntary context switches of a process (all its threads)
ctx_switches() { awk '/ctxt_switches/ { n += $2 } END { print n + 0 }' /proc/"$1"/task/*/status 2>/dev/null; }
# subscriber packets so far: "passed consumed" (tc/subscriber_ingress
# SUB_RX and ACK_CONSUMED in moq_stats, summed over CPUs; the reasons'
# count from the map size, so an object without ACK_CONSUMED reads 0)
sub_rx_counts() {
	bpftool -j map dump pinned "$PIN/moq_stats" | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = len(d) // 3
tot = {}
for e in d:
    k = e["key"]
    k = int.from_bytes(bytes(int(x, 16) for x in k), "little") if isinstance(k, list) else int(k)
    n = 0
    for v in e["values"]:
        val = v["value"]
        n += int.from_bytes(bytes(int(x, 16) for x in val[:8]), "little") if isinstance(val, list) else int(val["packets"])
    tot[k] = n
print(tot.get(2 * r + 36, 0), tot.get(2 * r + 48, 0) if r > 48 else 0)'
}

run_mode() { # MODE N -> sets R_* variables
	local mode=$1 n=$2 tag=$1$2 rp pp c0 c1 s0 s1 k0 k1 a0 a1 x0 x1
	# shellcheck disable=SC2046
	in_ns "$RELAY_NS" "$B/bin/moq-relayd" $(relay_args "$mode") 2>"$TMP/relay-$tag.log" &
	rp=$!; PIDS+=($rp)
	waitlog "$TMP/relay-$tag.log" "listening on"
	in_ns "$PUB_NS" "$B/bin/moq-pub" "${PUBARGS[@]}" "$RELAY_IP4:4443" 2>"$TMP/pub-$tag.log" &
	pp=$!; PIDS+=($pp)
	waitlog "$TMP/relay-$tag.log" "publishes namespace"
	c0=$(cpu_ticks $rp) s0=$(softirq_ticks) x0=$(ctx_switches $rp)
	read -r k0 a0 <<<"$(sub_rx_counts)"
	run_subs "$n" "$tag"
	c1=$(cpu_ticks $rp) s1=$(softirq_ticks) x1=$(ctx_switches $rp)
	read -r k1 a1 <<<"$(sub_rx_counts)"
	R_ACKS=$(awk -v p=$((k1 - k0)) -v a=$((a1 - a0)) 'BEGIN { printf "%.1f%%", p + a ? 100 * a / (p + a) : 0 }')
	sleep 1.1
	R_SHARE=$(grep -o 'kernel_share=[0-9.]*' "$TMP/relay-$tag.log" | tail -1 | cut -d= -f2 || true)
	# ring-buffer events per packet the kernel forwarded (fast path only)
	R_EVPP=$(grep -o 'fastpath subs=.*' "$TMP/relay-$tag.log" | tail -1 |
		awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		     END { if (v["kernel_pkts"] > 0) printf "%.3f", v["events"] / v["kernel_pkts"] }' || true)
	stopwait $pp
	stopwait $rp
	read -r R_P50 R_P99 R_OBJ R_MISS R_INT <<<"$(summarize "$tag" "$n")"
	R_CPU=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v o="$R_OBJ" 'BEGIN { printf "%.2f", o ? t / hz * 1e6 / o : 0 }')
	R_SIRQ=$(awk -v t=$((s1 - s0)) -v hz="$HZ" -v o="$R_OBJ" 'BEGIN { printf "%.2f", o ? t / hz * 1e6 / o : 0 }')
	R_CSW=$(awk -v t=$((x1 - x0)) -v o="$R_OBJ" 'BEGIN { printf "%.3f", o ? t / o : 0 }')

	# syscalls: a second run under strace
	# shellcheck disable=SC2046
	in_ns "$RELAY_NS" strace -c -f -o "$TMP/strace-$tag.txt" "$B/bin/moq-relayd" $(relay_args "$mode") \
		2>"$TMP/relay-s$tag.log" &
	rp=$!; PIDS+=($rp)
	waitlog "$TMP/relay-s$tag.log" "listening on"
	in_ns "$PUB_NS" "$B/bin/moq-pub" "${PUBARGS[@]}" "$RELAY_IP4:4443" 2>"$TMP/pub-s$tag.log" &
	pp=$!; PIDS+=($pp)
	waitlog "$TMP/relay-s$tag.log" "publishes namespace"
	run_subs "$n" "s$tag"
	stopwait $pp
	kill $(pgrep -P $rp) 2>/dev/null || true
	timeout 10 tail --pid=$rp -f /dev/null || kill -9 $rp 2>/dev/null || true
	local calls sobj
	calls=$(awk '$NF == "total" { print $4 }' "$TMP/strace-$tag.txt" 2>/dev/null || true)
	sobj=$(jq -s '[.[].objects_received] | add' $(for k in $(seq 1 "$n"); do echo "$TMP/s$tag-$k.json"; done))
	R_SC=$(awk -v c="${calls:-0}" -v o="${sobj:-0}" 'BEGIN { printf "%.2f", o ? c / o : 0 }')
}

ROWS=()
for n in $COUNTS; do
	echo "== $n subscriber(s)"
	for mode in $MODES; do
		run_mode "$mode" "$n"
		echo "   $mode: p50 $R_P50 p99 $R_P99 us | relay CPU $R_CPU us/obj | softirq $R_SIRQ us/obj | $R_SC syscalls/obj | $R_CSW ctx switches/obj | objects $R_OBJ missing $R_MISS integrity $R_INT | kernel share ${R_SHARE:--} | subscriber packets consumed in the kernel $R_ACKS | ring events/fwd pkt ${R_EVPP:--}"
		ROWS+=("| $n | $mode | $R_P50 / $R_P99 | $R_CPU | $R_SIRQ | $R_SC | $R_CSW | $R_OBJ | $R_MISS / $R_INT | ${R_SHARE:--} | $R_ACKS | ${R_EVPP:--} |")
	done
done

{
	echo "# moq-relayd: fast path off vs on"
	echo
	echo "Generated by \`bench/fastpath_onoff.sh\` on $(date -u +%Y-%m-%d) ($(uname -r), $(nproc) vCPUs)."
	echo "Synthetic track, $SIZE-byte objects at $RATE objects/s, 10 objects per group, plaintext"
	echo "profile, ${SECS} s per run, netns testbed with $HOSTS subscriber hosts (64 subscribers ="
	echo "8 moq-sub per host). Both modes run in the same invocation, interleaved per subscriber"
	echo "count, with the tc programs attached throughout (in *off* no agent heartbeat, so they"
	echo "forward nothing). Latency: payload CLOCK_MONOTONIC send time to receive time in"
	echo "moq-sub (median of the subscribers' p50, largest p99), µs. Relay CPU: moq-relayd"
	echo "utime+stime per delivered object (sum over subscribers). Softirq: the machine's softirq"
	echo "time per delivered object (where tc programs and veth delivery run; includes every"
	echo "process's packet processing, so it is an upper bound for the fast path's kernel cost)."
	echo "Syscalls: a second run under \`strace -c -f\`. Kernel share: media packets the egress"
	echo "program forwarded / all media packets (the agent's own writes are the rest). ACKs in"
	echo "kernel: subscriber packets tc/subscriber_ingress consumed (pure media ACKs) / all it saw."
	echo "Context switches: the relay's voluntary + involuntary, per delivered object. Ring events:"
	echo "the agent's \`events=\` over \`kernel_pkts=\` (moq_events read per packet the kernel forwarded)."
	echo
	echo "| subscribers | fast path | p50 / p99 (µs) | relay CPU µs/object | softirq µs/object | syscalls/object | ctx switches/object | objects delivered | missing / integrity | kernel share | ACKs in kernel | ring events / fwd packet |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	for r in "${ROWS[@]}"; do echo "$r"; done
	echo
	echo "The VM has 2 vCPUs shared by the publisher, the relay and every moq-sub, so p99 is"
	echo "noisy and at 64 subscribers the host is CPU-bound by the subscribers themselves."
} >"$OUT"
echo "wrote $OUT"
