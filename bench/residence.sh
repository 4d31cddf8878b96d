#!/usr/bin/env bash
# bench/residence.sh - relay residence time per copy (issue 18) from kernel
# timestamps on the relay's own interfaces, independent of how fast the
# testbed's receivers are:
#   in   tst_ingress (tc-progs/testing/tstamp.bpf.o) on the clsact ingress of
#        the relay's publisher-side interface, ahead of tc/upstream_ingress
#        (priority 1): one stamp per upstream object (MQP1 sequence number);
#   out  tst_egress on the clsact egress of each subscriber-side interface,
#        ahead of tc/subscriber_egress: one stamp per copy. A fast-path clone
#        is stamped when it enters the egress hook (before the rewrite of
#        that clone, after those of the clones before it), keyed by its
#        mark (slot); a packet the agent sends is keyed by its destination.
# Residence of a copy = out - in. Per upstream object: the first and the
# last of its copies out (with N subscribers: the time until the last of N
# clones leaves). Audio-like load (50 objects/s of 200 B, one group per
# second); N subscriber connections over RES_HOSTS moq-sub --connections
# processes; fast path (on) and userspace (off) in the same run, and with
# RES_MODES including "chain": the relay measured is an edge (fast path)
# fed through --upstream by an origin relay (userspace) in the publisher's
# namespace (before issue 18's relay chains such an edge forwarded in
# userspace). The window (RES_SECONDS) starts 2 s after every session is
# ready.
#
#   B=build bench/residence.sh [--quick]
#
# Writes docs/results/residence$RES_TAG.{md,csv}. Environment: B,
# RES_COUNTS ("1 1000"), RES_MODES ("on off chain"), RES_SECONDS (4), RES_HOSTS
# (4), RES_TAG, BENCH_KEEP=1. --quick: RES_COUNTS="1 64", RES_SECONDS=2.
set -euo pipefail
BENCH_NAME=residence
. "$(dirname "$0")/lib.sh"
bench_quick_args "$@"
COUNTS=${RES_COUNTS:-1 1000}
SECS=${RES_SECONDS:-4}
[ "$QUICK" = 1 ] && COUNTS=${RES_COUNTS:-1 64} SECS=${RES_SECONDS:-2}
MODES=${RES_MODES:-on off chain}
HOSTS=${RES_HOSTS:-4}
TAG=${RES_TAG:-}
RATE=50 SIZE=200
bench_init rt residence
TSPIN=/sys/fs/bpf/moq-bench-$P-ts
OUT=$ROOT/docs/results/residence$TAG
BUILDINFO=$(bench_buildinfo)
bench_need bin/moq-relayd bin/moq-pub bin/moq-sub tc-progs/relay.bpf.o tc-progs/testing/tstamp.bpf.o -- python3 cc bpftool jq
STATS0=$(sysctl -n kernel.bpf_stats_enabled)
bench_cleanup_extra() {
	rm -rf "$TSPIN"
	[ "$(sysctl -n kernel.bpf_stats_enabled)" = "$STATS0" ] || sysctl -qw kernel.bpf_stats_enabled="$STATS0"
}
bench_traps
# the stamp program runs on every copy before it leaves: its own run time
# (kernel.bpf_stats_enabled) is measured so the report can take it out
sysctl -qw kernel.bpf_stats_enabled=1
# "run_cnt run_time_ns" of the pinned tst_egress, then of tst_ingress
stamp_stats() {
	local p
	for p in tst_egress tst_ingress; do
		bpftool -j prog show pinned "$TSPIN/$p" | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"'
	done | tr '\n' ' '
}
# the relay's own programs (every tc filter loads its own instance): ids of
# tc/upstream_ingress, then of every tc/subscriber_egress
relay_ids() {
	local h v
	rtc filter show dev "$RELAY_IF_PUB" ingress | grep -o ' id [0-9]*' | awk '{ print $2 }' | tr '\n' ' '
	echo -n ","
	for h in $(seq 1 "$HOSTS"); do
		v=RELAY_IF_SUB_$h
		rtc filter show dev "${!v}" egress | grep -o ' id [0-9]*' | awk '{ print $2 }'
	done | tr '\n' ' '
}
# "run_cnt run_time_ns" summed over the ids IDS
ids_stats() {
	local id
	for id in $1; do
		bpftool -j prog show id "$id" | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"'
	done | awk '{ c += $1; t += $2 } END { print c + 0, t + 0 }'
}
# "ingress_cnt ingress_ns egress_cnt egress_ns"
relay_stats() { echo "$(ids_stats "${RIDS%%,*}") $(ids_stats "${RIDS#*,}")"; }
# C0 T0 C1 T1: mean ns per run
mean_ns() { awk -v c=$(($3 - $1)) -v t=$(($4 - $2)) 'BEGIN { printf "%.0f", c ? t / c : 0 }'; }
TSTAMP=$TMP/tstamp
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -I"$ROOT/tc-progs" \
	"$ROOT/bench/tstamp.c" -lbpf -o "$TSTAMP"

bench_testbed_up "$HOSTS"
# relay.bpf.o first (tc's automatic priority), then the stamps at priority 1
bench_fast_attach "$OBJ" "$HOSTS"
RIDS=$(relay_ids)
"$TSTAMP" load "$B/tc-progs/testing/tstamp.bpf.o" "$TSPIN"
"$TSTAMP" attach "$TSPIN" "$RELAY_NS" "$RELAY_IF_PUB" ingress
for h in $(seq 1 "$HOSTS"); do
	v=RELAY_IF_SUB_$h
	"$TSTAMP" attach "$TSPIN" "$RELAY_NS" "${!v}" egress
done

RUNS=() RSTATS=()
run_one() { # MODE N
	local mode=$1 n=$2 tag=$1-$2 rp pp op="" h k per rest pids=() ready up=() paddr=$RELAY_IP4 rlog
	if [ "$mode" = chain ]; then
		# an origin relay (userspace) in the publisher's namespace; the
		# relay measured is its edge (fast path, --upstream)
		in_ns "$PUB_NS" "$B/bin/moq-relayd" $(relay_args off) 2>"$TMP/origin-$tag.log" &
		op=$!; PIDS+=("$op")
		waitlog "$TMP/origin-$tag.log" "listening on"
		up=(--upstream "$PUB_IP4:4443") paddr=127.0.0.1
	fi
	# shellcheck disable=SC2046
	in_ns "$RELAY_NS" "$B/bin/moq-relayd" $(relay_args "${mode/chain/on}") "${up[@]}" --max-sessions $((n + 64)) \
		--max-handshakes $((n + 64)) 2>"$TMP/relay-$tag.log" &
	rp=$!; PIDS+=("$rp")
	waitlog "$TMP/relay-$tag.log" "listening on"
	in_ns "$PUB_NS" "$B/bin/moq-pub" --plaintext --rate $RATE --object-size $SIZE \
		--objects-per-group $RATE "$paddr:4443" 2>"$TMP/pub-$tag.log" &
	pp=$!; PIDS+=("$pp")
	rlog=$TMP/relay-$tag.log
	[ -z "$op" ] || rlog=$TMP/origin-$tag.log
	waitlog "$rlog" "publishes namespace"
	per=$((n / HOSTS)) rest=$((n % HOSTS))
	for h in $(seq 1 "$HOSTS"); do
		k=$per
		[ "$h" -le "$rest" ] && k=$((k + 1))
		[ "$k" -gt 0 ] || continue
		in_ns "$(sub_ns "$h")" "$B/bin/moq-sub" --plaintext --connections "$k" --json --quiet \
			--connect-timeout 90 "$(sub_gw "$h"):4443" >"$TMP/$tag-$h.json" 2>"$TMP/$tag-$h.log" &
		pids+=($!)
	done
	PIDS+=("${pids[@]}")
	# the publisher's session is one of the relay's, except behind an origin
	wait_ready "$TMP/relay-$tag.log" "$([ -n "$op" ] && echo $((n - 1)) || echo "$n")"
	sleep 2
	"$TSTAMP" dump "$TSPIN" >/dev/null
	local c0 t0 c1 t1 i0 j0 i1 j1 egns inns
	local ra0 rb0 rc0 rd0 ra1 rb1 rc1 rd1
	read -r c0 t0 i0 j0 <<<"$(stamp_stats)"
	read -r ra0 rb0 rc0 rd0 <<<"$(relay_stats)"
	sleep "$SECS"
	stopwait "$pp" # no new objects; the last ones' copies leave
	sleep 0.5
	read -r c1 t1 i1 j1 <<<"$(stamp_stats)"
	read -r ra1 rb1 rc1 rd1 <<<"$(relay_stats)"
	"$TSTAMP" dump "$TSPIN" >"$TMP/$tag.dump"
	egns=$(mean_ns "$c0" "$t0" "$c1" "$t1") inns=$(mean_ns "$i0" "$j0" "$i1" "$j1")
	for k in "${pids[@]}"; do kill -TERM "$k" 2>/dev/null || true; done
	for k in "${pids[@]}"; do timeout 30 tail --pid="$k" -f /dev/null || kill -9 "$k" 2>/dev/null || true; done
	stopwait "$rp"
	[ -z "$op" ] || stopwait "$op"
	[ -z "$op" ] || ready=$((ready + 1))
	echo "   $mode n=$n: $((ready - 1)) sessions ready, $(wc -l <"$TMP/$tag.dump") stamps, tst_egress $egns ns, tst_ingress $inns ns per run"
	RUNS+=(--run "$mode" "$n" "$TMP/$tag.dump" "$egns" "$inns")
	# the relay programs' own time over the window (fast path only)
	if [ "$mode" != off ]; then
		RSTATS+=("| $mode | $n | $((ra1 - ra0)) | $(mean_ns "$ra0" "$rb0" "$ra1" "$rb1") | $((rc1 - rc0)) | $(mean_ns "$rc0" "$rd0" "$rc1" "$rd1") |")
		echo "   relay programs: ${RSTATS[-1]}"
	fi
}

echo "residence: modes $MODES, counts $COUNTS, ${SECS} s windows, $HOSTS subscriber processes"
for n in $COUNTS; do
	for mode in $MODES; do
		echo "== $mode, $n subscriber connections"
		run_one "$mode" "$n"
	done
done
STATS=$("$TSTAMP" stats "$TSPIN")
mkdir -p "$ROOT/docs/results"
TABLE=$(python3 "$ROOT/bench/residence_report.py" "${RUNS[@]}" --csv "$OUT.csv")
echo "$TABLE"
{
	echo "# Relay residence time per copy (kernel timestamps on the relay's interfaces)"
	echo
	echo "Generated by \`bench/residence.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC, $(($(date +%s) - T0)) s wall time."
	echo
	echo "- Machine: $(nproc) vCPU, Linux $(uname -r). Load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (shared VM)."
	echo "- Build: $BUILDINFO"
	echo "- Command: \`B=build bench/residence.sh$([ "$QUICK" = 1 ] && echo ' --quick')\` (RES_COUNTS=\"$COUNTS\" RES_MODES=\"$MODES\" RES_SECONDS=$SECS RES_HOSTS=$HOSTS)."
	echo "- Load: 50 objects/s of 200 B, one group per second, plaintext; subscribers: $HOSTS \`moq-sub --connections\` processes (one per subscriber namespace)."
	echo "- Stamps: \`tc-progs/testing/tstamp.bpf.o\` at priority 1 on the relay's publisher-side ingress (in) and every subscriber-side egress (out), ahead of \`relay.bpf.o\`. A kernel clone's out stamp is taken as it enters its egress hook, before its own rewrite (~1 µs, docs/results.md §6) and after the rewrites of the clones before it. Window: ${SECS} s from 2 s after the last session was ready; the publisher stops before the dump. tstamp counters at the end: \`$STATS\`."
	echo "- Per clone = out − in of every kernel clone; agent copy = of every packet the agent sent with the object (userspace: all of them). First / last copy out = per upstream object, its earliest / latest copy (with N subscribers: until the last of N is out)."
	echo "- The stamp program itself runs on every copy before it leaves (the clones of one packet one after another): and so does the ingress stamp program once, before tc/upstream_ingress. Their mean run times per packet (kernel.bpf_stats_enabled, over the window, every packet they saw) are the \"stamp ns\" column (egress / ingress); \"without stamps\" = the p50 − ingress ns − (copies before it) × egress ns: what a relay without the measurement would show. bpf_stats adds its own two clock reads per program run, to the relay's programs too."
	echo
	echo "$TABLE"
	if [ "${#RSTATS[@]}" -gt 0 ]; then
		echo
		echo "The relay's own programs over the same windows (kernel.bpf_stats_enabled; every tc filter's instance summed): tc/upstream_ingress runs (each upstream packet: classify + all its clones, their egress runs included) and mean ns per run; tc/subscriber_egress runs (clones and the agent's own packets) and mean ns per run."
		echo
		echo "| mode | subscribers | upstream_ingress runs | ns/run | subscriber_egress runs | ns/run |"
		echo "|---|---:|---:|---:|---:|---:|"
		printf '%s\n' "${RSTATS[@]}"
	fi
} >"$OUT.md"
echo "wrote $OUT.md $OUT.csv"
