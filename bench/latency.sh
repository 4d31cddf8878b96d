#!/usr/bin/env bash
# bench/latency.sh - relay-added latency per packet from kernel timestamps
# (issue 7, measurement 1). Needs root.
#
#   B=build bench/latency.sh [--quick] [--no-write]
#
# tc-progs/testing/tstamp.bpf.o (loaded and attached by bench/tstamp.c, built here
# with cc like bench/bpf_cost.sh builds bpf_cost.c) stamps every packet that
# carries an MQP1 payload header with bpf_ktime_get_ns() on the clsact egress
# of the publisher's eth0 and the clsact ingress of every subscriber's eth0
# (netns testbed, separate links; all namespaces share one clock). The
# object's identity is its MQP1 sequence number. Modes, interleaved round by
# round for every (subscriber count, object size):
#   direct : moq-pub --listen in the publisher namespace, subscribers connect
#            to it; packets take the same two veth links and are routed by
#            the relay namespace's kernel (no relay process) = the floor;
#   relay  : moq-pub -> moq-relayd --plaintext (userspace path) -> subscribers;
#   fast   : moq-relayd --fast-path on with tc-progs/relay.bpf.o attached on
#            the relay's interfaces (reported "unavailable" when the relay
#            refuses to start with it).
# One-way latency of an object to a subscriber = subscriber-ingress stamp -
# publisher-egress stamp (direct: of the copy sent to that subscriber;
# relay/fast: of the single packet sent to the relay). Relay-added latency =
# one-way latency - the median direct latency at the same subscriber count
# and object size. Writes docs/results/latency.md, latency-per-packet.png,
# latency-vs-subs.png (bench/latency_report.py, gnuplot).
#
# Environment: B (build dir), LAT_COUNTS ("1 8 64 256"), LAT_SIZES
# ("100 1100"), LAT_RATE objects/s (30), LAT_SECONDS measured seconds per run
# (4), LAT_ROUNDS (3; LAT_ROUNDS_BIG, default 1, for 64 and more subscribers:
# starting 256 moq-sub processes takes 30-60 s on 2 busy vCPUs), LAT_MODES ("direct relay fast"), LAT_HOSTS subscriber
# namespaces (8; subscriber k runs on host (k-1) % LAT_HOSTS + 1).
# --quick: LAT_COUNTS="1 8", LAT_ROUNDS=1, LAT_SECONDS=3 unless set.
set -euo pipefail
BENCH_NAME=latency
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
QUICK=0 WRITE=1
for a in "$@"; do
	case "$a" in
	--quick) QUICK=1 ;;
	--no-write) WRITE=0 ;;
	*) echo "usage: $0 [--quick] [--no-write]" >&2; exit 2 ;;
	esac
done
if [ $QUICK = 1 ]; then
	COUNTS=${LAT_COUNTS:-1 8} ROUNDS=${LAT_ROUNDS:-1} SECS=${LAT_SECONDS:-3}
	ROUNDS_BIG=${LAT_ROUNDS_BIG:-1}
else
	COUNTS=${LAT_COUNTS:-1 8 64 256} ROUNDS=${LAT_ROUNDS:-3} SECS=${LAT_SECONDS:-4}
	ROUNDS_BIG=${LAT_ROUNDS_BIG:-1}
fi
SIZES=${LAT_SIZES:-100 1100}
RATE=${LAT_RATE:-30}
MODES=${LAT_MODES:-direct relay fast}
HOSTS=${LAT_HOSTS:-8}
P=lat$$
P=${P:0:12}
RES=$ROOT/docs/results
TMP=$(mktemp -d /tmp/moq-latency.XXXXXX)
PIN=/sys/fs/bpf/moq-bench-$P            # tstamp programs and maps
FPMNT=/sys/fs/bpf/moq-bench-$P-fp       # private tc pin root for relay.bpf.o (fast)
TSTAMP=$TMP/tstamp
START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

tlog() { echo "$(date +%T.%N | cut -c1-12) $*" >>"$TMP/timeline.txt"; }
bench_need bin/moq-relayd bin/moq-pub bin/moq-sub tc-progs/testing/tstamp.bpf.o -- python3 gnuplot nsenter tc

BENCH_KEEP=${LAT_KEEP:-${BENCH_KEEP:-0}}
bench_cleanup_extra() {
	[ "${FAST_GLOBAL:-0}" = 1 ] && rm -f /sys/fs/bpf/tc/globals/moq_* 2>/dev/null
	rm -rf "$PIN" "$FPMNT"
}
bench_traps

# private copies: other work may rebuild $B while this runs
mkdir -p "$TMP/bin" "$TMP/tc-progs/testing"
cp "$B/bin/moq-relayd" "$B/bin/moq-pub" "$B/bin/moq-sub" "$TMP/bin/"
cp "$B/tc-progs/testing/tstamp.bpf.o" "$TMP/tc-progs/testing/"
[ -f "$B/tc-progs/relay.bpf.o" ] && cp "$B/tc-progs/relay.bpf.o" "$TMP/tc-progs/"
BUILD_DIR=$B
B=$TMP

cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Itc-progs \
	bench/tstamp.c -lbpf -o "$TSTAMP"

maxn=0
for n in $COUNTS; do [ "$n" -gt $maxn ] && maxn=$n; done
[ "$HOSTS" -gt "$maxn" ] && HOSTS=$maxn
bench_testbed_up "$HOSTS"
# waitlog_quick FILE RE: RE in FILE within 5 s (0.05 s steps), else 1
waitlog_quick() { for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.05; done; return 1; }
# stopwait_all PID...: SIGTERM all, wait at most 8 s for all of them together, SIGKILL the rest
stopwait_all() {
	local p t=0 alive
	kill "$@" 2>/dev/null || true
	while [ $t -lt 80 ]; do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && { alive=1; break; }; done
		[ $alive = 0 ] && break
		sleep 0.1; t=$((t + 1))
	done
	for p in "$@"; do kill -9 "$p" 2>/dev/null || true; done
	wait "$@" 2>/dev/null || true
}

# timestamps: publisher egress, every subscriber host's ingress
"$TSTAMP" load "$B/tc-progs/testing/tstamp.bpf.o" "$PIN"
"$TSTAMP" attach "$PIN" "$PUB_NS" "$PUB_IF" egress
for h in $(seq 1 "$HOSTS"); do "$TSTAMP" attach "$PIN" "$(sub_ns "$h")" eth0 ingress; done

# fast path: relay.bpf.o on the relay's interfaces, pinned under a private
# root (TC_BPF_MNT) when moq-relayd can be told where the pins are, else in
# the global /sys/fs/bpf/tc/globals (only if nobody else has pins there).
FAST_OK=0 FAST_WHY="not in LAT_MODES" FAST_ARGS=() FAST_GLOBAL=0
# tc in the relay's namespace; the pin root is exported by fast_attach
relay_tc() { nsenter --net="/run/netns/$RELAY_NS" tc "$@"; }
fast_attach() {
	local obj=$B/tc-progs/relay.bpf.o i pinopt
	[ -f "$obj" ] || { FAST_WHY="$obj missing"; return 1; }
	pinopt=$("$B/bin/moq-relayd" --help 2>&1 | grep -o -- '--[a-z-]*pin[a-z-]*' | head -1 || true)
	if [ -n "$pinopt" ]; then
		mkdir -p "$FPMNT"
		export TC_BPF_MNT=$FPMNT
		FAST_ARGS=("$pinopt" "$FPMNT/tc/globals")
	elif [ -e /sys/fs/bpf/tc/globals/moq_config ]; then
		FAST_WHY="moq-relayd has no pin directory option and /sys/fs/bpf/tc/globals already holds moq_* pins (someone else's fast path)"
		return 1
	else
		FAST_GLOBAL=1
	fi
	relay_tc qdisc add dev "$RELAY_IF_PUB" clsact &&
		relay_tc filter add dev "$RELAY_IF_PUB" ingress bpf da obj "$obj" sec tc/upstream_ingress || {
		FAST_WHY="attaching tc/upstream_ingress failed"; return 1; }
	for i in $(seq 1 "$HOSTS"); do
		local v=RELAY_IF_SUB_$i
		relay_tc qdisc add dev "${!v}" clsact &&
			relay_tc filter add dev "${!v}" egress bpf da obj "$obj" sec tc/subscriber_egress &&
			relay_tc filter add dev "${!v}" ingress bpf da obj "$obj" sec tc/subscriber_ingress || {
			FAST_WHY="attaching the subscriber programs failed"; return 1; }
	done
}
fpstats() { "$TSTAMP" fpstats "${FAST_ARGS[1]:-/sys/fs/bpf/tc/globals}/moq_stats" 2>/dev/null || echo "up_fwd=0 eg_fwd=0"; }
fast_detach() {
	local i v
	relay_tc qdisc del dev "$RELAY_IF_PUB" clsact 2>/dev/null || true
	for i in $(seq 1 "$HOSTS"); do v=RELAY_IF_SUB_$i; relay_tc qdisc del dev "${!v}" clsact 2>/dev/null || true; done
	# global pins: only ours (fast_attach refused when moq_config existed)
	[ -z "${TC_BPF_MNT:-}" ] && [ "$FAST_GLOBAL" = 1 ] && rm -f /sys/fs/bpf/tc/globals/moq_* 2>/dev/null || true
}
# no control socket where the relay has one (the default path is shared)
RELAY_ARGS=()
"$B/bin/moq-relayd" --help 2>&1 | grep -q -- --ctl-socket && RELAY_ARGS=(--ctl-socket none)
start_relay() { # LOG [extra args]: starts moq-relayd, sets RELAY_PID, 0 when listening
	local log=$1; shift
	in_ns "$RELAY_NS" "$B/bin/moq-relayd" --plaintext --listen 0.0.0.0:4443 --log-level info \
		--stats-interval 0 --sub-queue-bytes 16M --drain-timeout 1 "${RELAY_ARGS[@]}" "$@" 2>"$log" &
	RELAY_PID=$!; PIDS+=($RELAY_PID)
	waitlog_quick "$log" "listening on" && kill -0 $RELAY_PID 2>/dev/null
}
if [[ " $MODES " == *" fast "* ]]; then
	# a relay build without the fast path refuses the option at start,
	# before touching any pin: ask it first, attach only if it might work
	# (no control socket; an empty private pin directory where the relay
	# takes one, so it never opens somebody else's pinned maps)
	pre=()
	prepin=$("$B/bin/moq-relayd" --help 2>&1 | grep -o -- '--[a-z-]*pin[a-z-]*' | head -1 || true)
	[ -n "$prepin" ] && pre=("$prepin" "$TMP/no-pins")
	timeout 2 nsenter --net="/run/netns/$RELAY_NS" "$B/bin/moq-relayd" --plaintext --listen 127.0.0.1:4443 \
		--fast-path on --stats-interval 0 "${RELAY_ARGS[@]}" "${pre[@]}" >"$TMP/fast-precheck.log" 2>&1 || true
	if grep -q "not built yet" "$TMP/fast-precheck.log"; then
		FAST_WHY="moq-relayd: $(grep -m1 "not built yet" "$TMP/fast-precheck.log")"
	elif fast_attach; then
		if start_relay "$TMP/fast-probe.log" --fast-path on "${FAST_ARGS[@]}"; then
			FAST_OK=1
		else
			FAST_WHY="moq-relayd --fast-path on: $(grep -m1 -i 'fast\|error' "$TMP/fast-probe.log" || head -1 "$TMP/fast-probe.log")"
		fi
		stopwait_all $RELAY_PID
	fi
	[ $FAST_OK = 1 ] || { fast_detach; echo "fast: unavailable ($FAST_WHY)"; }
fi
RUN_MODES=()
for m in $MODES; do [ "$m" = fast ] && [ $FAST_OK = 0 ] && continue; RUN_MODES+=("$m"); done

# run_one MODE N SIZE ROUND: one run; samples of tstamp into $TMP/run-ID.dump
RUNID=0
: >"$TMP/runs.txt"
run_one() {
	local mode=$1 n=$2 size=$3 round=$4 k h addr pp pubargs subs=() id subargs
	RUNID=$((RUNID + 1)); id=$RUNID
	"$TSTAMP" dump "$PIN" >/dev/null # drop anything left over
	pubargs=(--plaintext --no-pacing --rate "$RATE" --object-size "$size" --objects-per-group 1 --linger 1)
	subargs=(--plaintext --json --quiet --connect-timeout 30)
	RELAY_PID=
	local fp0="" fp1="" kfwd=-
	if [ "$mode" = fast ]; then fp0=$(fpstats); fi
	tlog "$id start $mode n=$n size=$size"
	# direct: moq-pub holds the track until all N subscribed
	# (--wait-subscribers). relay/fast: subscribers connect first and
	# re-SUBSCRIBE (--retry) until the publisher is there, so joining (N
	# handshakes) does not overlap with forwarding to those already in.
	if [ "$mode" = direct ]; then
		in_ns "$PUB_NS" "$B/bin/moq-pub" "${pubargs[@]}" --wait-subscribers "$n" --listen 0.0.0.0:5000 \
			2>"$TMP/pub-$id.log" &
		pp=$!; PIDS+=($pp)
		waitlog_quick "$TMP/pub-$id.log" "listening on" || die "run $id: moq-pub did not listen"
	else
		local extra=()
		[ "$mode" = fast ] && extra=(--fast-path on "${FAST_ARGS[@]}")
		start_relay "$TMP/relay-$id.log" "${extra[@]}" || { cat "$TMP/relay-$id.log" >&2; die "run $id: moq-relayd did not start"; }
		subargs+=(--retry 300)
	fi
	for k in $(seq 1 "$n"); do
		h=$(((k - 1) % HOSTS + 1))
		if [ "$mode" = direct ]; then addr=$PUB_IP4:5000; else addr=$(sub_gw "$h"):4443; fi
		in_ns "$(sub_ns "$h")" "$B/bin/moq-sub" "${subargs[@]}" "$addr" >"$TMP/sub-$id-$k.json" 2>"$TMP/sub-$id-$k.log" &
		subs+=($!)
		# a burst of handshakes times some out (moq-sub gives up after
		# 5 s): 8 subscribers per 100 ms at most
		if [ $((k % 8)) = 0 ] && [ "$k" -lt "$n" ]; then sleep 0.1; fi
	done
	PIDS+=("${subs[@]}")
	tlog "$id subscribers started"
	if [ "$mode" != direct ]; then
		# every subscriber session ready at the relay (bounded wait)
		for _ in $(seq 1 $((100 + n))); do
			[ "$(grep -c ': ready (peer' "$TMP/relay-$id.log" || true)" -ge "$n" ] && break
			sleep 0.2
		done
		tlog "$id $(grep -c ': ready (peer' "$TMP/relay-$id.log" || true) sessions ready"
		in_ns "$PUB_NS" "$B/bin/moq-pub" "${pubargs[@]}" "$RELAY_IP4:4443" 2>"$TMP/pub-$id.log" &
		pp=$!; PIDS+=($pp)
		waitlog_quick "$TMP/relay-$id.log" "publishes namespace" || die "run $id: no PUBLISH_NAMESPACE at the relay"
	fi
	# the report only uses objects sent after the last subscriber's first one
	sleep "$(awk -v n="$n" 'BEGIN { printf "%.1f", 1 + n / 100 }')"
	sleep "$SECS"
	tlog "$id stopping"
	stopwait_all "${subs[@]}"
	tlog "$id subscribers stopped"
	stopwait_all $pp
	[ -z "$RELAY_PID" ] || stopwait_all "$RELAY_PID"
	if [ "$mode" = fast ]; then
		fp1=$(fpstats)
		echo "$id before: $fp0" >>"$TMP/fpstats.txt"
		echo "$id after:  $fp1" >>"$TMP/fpstats.txt"
		kfwd=$(($(sed 's/.*eg_fwd=\([0-9]*\).*/\1/' <<<"$fp1") - $(sed 's/.*eg_fwd=\([0-9]*\).*/\1/' <<<"$fp0")))
	fi
	"$TSTAMP" dump "$PIN" >"$TMP/run-$id.dump"
	tlog "$id dumped"
	local integ got fails
	# one jq over all summaries (a jq per file costs ~40 s at 256 on a busy VM)
	read -r integ got < <(cat "$TMP"/sub-$id-*.json | jq -rn \
		'[inputs] | "\(map(.integrity_errors // 0) | add // 0) \(map(.objects_received // 0) | add // 0)"' 2>/dev/null ||
		echo "? ?")
	fails=$(cat "$TMP"/sub-$id-*.log | grep -c 'failed:\|exit [1-9]' || true)
	echo "$id $mode $n $size $round $integ $got $kfwd $fails" >>"$TMP/runs.txt"
	printf '  run %3d %-6s n=%-3d size=%-4d round %d: %6d stamps, %6s objects received, %s integrity errors, %d subscriber failures, kernel-forwarded %s\n' \
		"$id" "$mode" "$n" "$size" "$round" "$(wc -l <"$TMP/run-$id.dump")" "$got" "$integ" "$fails" "$kfwd"
}

echo "latency: modes ${RUN_MODES[*]}, counts $COUNTS, sizes $SIZES, $RATE objects/s, ${SECS}s x $ROUNDS rounds ($ROUNDS_BIG from 64 subscribers), $HOSTS subscriber hosts"
for n in $COUNTS; do
	for size in $SIZES; do
		rounds=$ROUNDS
		[ "$n" -ge 64 ] && rounds=$ROUNDS_BIG
		for r in $(seq 1 "$rounds"); do
			# rotate the mode order every round so no mode always runs first
			order=("${RUN_MODES[@]:$(((r - 1) % ${#RUN_MODES[@]}))}" "${RUN_MODES[@]:0:$(((r - 1) % ${#RUN_MODES[@]}))}")
			for m in "${order[@]}"; do run_one "$m" "$n" "$size" "$r"; done
		done
	done
done
STATS=$("$TSTAMP" stats "$PIN")
echo "tstamp counters: $STATS"
[ $FAST_OK = 1 ] && fast_detach

ELAPSED=$(($(date +%s) - START))
OUTDIR=$RES
[ $WRITE = 1 ] || OUTDIR=$TMP/out
mkdir -p "$OUTDIR"
CMD="B=${BUILD_DIR#"$ROOT"/} bench/latency.sh${*:+ $*}"
python3 bench/latency_report.py --tmp "$TMP" --out "$OUTDIR" --rate "$RATE" --secs "$SECS" --rounds "$ROUNDS" --rounds-big "$ROUNDS_BIG" \
	--hosts "$HOSTS" --relay-ip "$RELAY_IP4" --fast "$FAST_OK" --fast-why "$FAST_WHY" --cmd "$CMD" \
	--env "LAT_COUNTS=\"$COUNTS\" LAT_SIZES=\"$SIZES\" LAT_RATE=$RATE LAT_SECONDS=$SECS LAT_ROUNDS=$ROUNDS LAT_ROUNDS_BIG=$ROUNDS_BIG LAT_MODES=\"$MODES\" LAT_HOSTS=$HOSTS" \
	--stats "$STATS" --elapsed "$ELAPSED" --load "$LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
