#!/usr/bin/env bash
# bench/throughput_ceiling.sh - the highest forwarded packet rate moq-relayd
# delivers without loss, fast path (--fast-path on) vs the userspace relay,
# with 1 and 64 subscribers on one track, on the netns testbed.
#
# Small objects, one object per packet: a stream track with one object per
# group (each object its own QUIC stream, one packet each unless moq-pub
# coalesces when it falls behind). CEIL_STREAMS=0 uses a datagram track
# (one OBJECT_DATAGRAM per object) instead; on this testbed datagrams are
# lost (sequence gaps) in both modes already at 2,000 forwarded objects/s
# with 8 or 64 subscribers, so that variant measures no clean step.
# The forwarded rate (objects/s × subscribers) is stepped up; a step is clean
# when every subscriber has objects_missing 0, integrity_errors 0, received
# ≥ CEIL_MIN_SHARE % of the objects the publisher was asked to produce, and
# a latency p99 ≤ CEIL_MAX_P99_MS. Per (mode, count) the steps stop at the
# first unclean one; the last clean rate is the ceiling. The relay's
# subscriber-side interfaces' tx packet counters give the packets actually
# sent (media + ACK/control).
# Everything (publisher, relay, 64 moq-sub) shares the VM's 2 vCPUs.
# Writes docs/results/throughput-ceiling.md.
# Environment: B, CEIL_SECONDS (5), CEIL_SIZE (200), CEIL_TARGETS forwarded
# objects/s ("2000 4000 8000 16000 32000 64000 128000"), CEIL_COUNTS ("1 64"),
# CEIL_MODES ("on off"), CEIL_MIN_SHARE (95), CEIL_MAX_P99_MS (100),
# CEIL_STREAMS (1), CEIL_RETRY (1: an unclean step is run once more and
# counts as unclean only if the retry is unclean too; both rows are listed),
# BENCH_KEEP=1 (keep the logs).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SECS=${CEIL_SECONDS:-5}
SIZE=${CEIL_SIZE:-200}
TARGETS=${CEIL_TARGETS:-2000 4000 8000 16000 32000 64000 128000}
COUNTS=${CEIL_COUNTS:-1 64}
MODES=${CEIL_MODES:-on off}
MINSHARE=${CEIL_MIN_SHARE:-95}
MAXP99=${CEIL_MAX_P99_MS:-100}
RETRY=${CEIL_RETRY:-1}
STREAMS=${CEIL_STREAMS:-1}
if [ "${BENCH_QUICK:-0}" = 1 ]; then SECS=3 TARGETS=${CEIL_TARGETS:-2000 8000}; fi
HOSTS=8
bench_init tc ceil-bench
OUT=$ROOT/docs/results/throughput-ceiling.md
# what was measured: the tree and the binaries at the start
BUILDINFO=$(bench_buildinfo)

bench_need bin/moq-relayd bin/moq-pub bin/moq-sub tc-progs/relay.bpf.o -- jq

bench_traps

bench_testbed_up $HOSTS

bench_fast_attach "$OBJ" $HOSTS
# tx packets summed over the relay's subscriber-side interfaces
relay_tx() {
	local h v s=0 x
	for h in $(seq 1 $HOSTS); do
		v=RELAY_IF_SUB_$h
		x=$(nsenter --net="/run/netns/$RELAY_NS" awk -v d="${!v}" '{ sub(/^ +/, ""); n = split($0, a, /[: ]+/); if (a[1] == d) print a[11] }' /proc/net/dev)
		s=$((s + ${x:-0}))
	done
	echo $s
}

if [ "$STREAMS" = 1 ]; then
	TRACK=(--track test --objects-per-group 1) KIND="stream track, one object per group (one QUIC stream each)" UNIT="one object per stream"
else
	TRACK=(--datagram-track test) KIND="datagram track (one OBJECT_DATAGRAM per object)" UNIT="one OBJECT_DATAGRAM each"
fi

run_step() { # MODE N RATE -> R_*
	local mode=$1 n=$2 rate=$3 tag=$1-$2-$3 rp pp k h pids=() tx0 tx1 l0 l1 t0 t1 tp
	# shellcheck disable=SC2046
	in_ns "$RELAY_NS" "$B/bin/moq-relayd" $(relay_args "$mode") 2>"$TMP/relay-$tag.log" &
	rp=$!; PIDS+=("$rp")
	waitlog "$TMP/relay-$tag.log" "listening on"
	l0=$(cut -d' ' -f1 /proc/loadavg)
	# subscribers connect first and re-SUBSCRIBE (--retry) until the
	# publisher is there, so the N handshakes do not overlap forwarding
	for k in $(seq 1 "$n"); do
		h=$(((k - 1) % HOSTS + 1))
		in_ns "$(sub_ns "$h")" "$B/bin/moq-sub" --plaintext --json --quiet --retry 120 \
			--connect-timeout 15 "$(sub_gw "$h"):4443" >"$TMP/$tag-$k.json" 2>"$TMP/$tag-$k.log" &
		pids+=($!)
		[ $((k % 8)) = 0 ] && sleep 0.1
	done
	PIDS+=("${pids[@]}")
	for _ in $(seq 1 $((100 + n))); do
		[ "$(grep -c ': ready (peer' "$TMP/relay-$tag.log" || true)" -ge "$n" ] && break
		sleep 0.2
	done
	in_ns "$PUB_NS" "$B/bin/moq-pub" --plaintext "${TRACK[@]}" --rate "$rate" --object-size "$SIZE" \
		--no-pacing "$RELAY_IP4:4443" 2>"$TMP/pub-$tag.log" &
	pp=$!; PIDS+=("$pp")
	waitlog "$TMP/relay-$tag.log" "publishes namespace"
	tp=$(date +%s.%N)
	# every subscriber re-subscribes within 200 ms; then measure SECS
	sleep "$(awk -v n="$n" 'BEGIN { printf "%.1f", 0.5 + n / 100 }')"
	tx0=$(relay_tx) t0=$(date +%s.%N)
	sleep "$SECS"
	tx1=$(relay_tx) t1=$(date +%s.%N)
	for k in "${pids[@]}"; do kill "$k" 2>/dev/null || true; done
	for k in "${pids[@]}"; do timeout 20 tail --pid="$k" -f /dev/null || kill -9 "$k" 2>/dev/null || true; done
	l1=$(cut -d' ' -f1 /proc/loadavg)
	R_SHARE=$(grep -o 'kernel_share=[0-9.]*' "$TMP/relay-$tag.log" | tail -1 | cut -d= -f2 || true)
	stopwait $pp
	stopwait $rp
	R_PUBDROP=$(sed -n 's/.*; \([0-9]*\) datagrams not sent.*/\1/p' "$TMP/pub-$tag.log" | tail -1)
	R_PUBDROP=${R_PUBDROP:-0}
	local files=() bad=0
	for k in $(seq 1 "$n"); do
		if jq -e .objects_received "$TMP/$tag-$k.json" >/dev/null 2>&1; then files+=("$TMP/$tag-$k.json"); else bad=$((bad + 1)); fi
	done
	if [ ${#files[@]} -gt 0 ]; then
		read -r R_MINOBJ R_SUM R_MISS R_INT R_P50 R_P99 R_DUR <<<"$(jq -rs '[
			([.[].objects_received] | min), ([.[].objects_received] | add), ([.[].objects_missing] | add),
			([.[].integrity_errors] | add),
			([.[].latency_us.p50] | sort | .[length/2|floor]), ([.[].latency_us.p99] | max),
			([.[].duration_s] | max)] | map(tostring) | join(" ")' "${files[@]}")"
	else
		R_MINOBJ=0 R_SUM=0 R_MISS=- R_INT=- R_P50=0 R_P99=0 R_DUR=$SECS
	fi
	# delivered objects/s over all subscribers: objects / time since the
	# publisher announced (each subscriber's objects all arrive after that)
	R_DELIV=$(awk -v o="$R_SUM" -v a="$tp" -v b="$t1" 'BEGIN { printf "%.0f", (b > a ? o / (b - a) : 0) }')
	R_TXPPS=$(awk -v a="$tx0" -v b="$tx1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (b - a) / (t1 - t0) }')
	R_LOAD="$l0 → $l1"
	local expect
	expect=$(awk -v r="$rate" -v a="$tp" -v b="$t1" -v m="$MINSHARE" 'BEGIN { printf "%d", r * (b - a - 0.3) * m / 100 }')
	R_OK=1 R_WHY=""
	[ "$bad" = 0 ] || { R_OK=0; R_WHY+="$bad subscriber(s) without a summary; "; }
	[ "$R_MISS" = 0 ] || { R_OK=0; R_WHY+="missing $R_MISS; "; }
	[ "$R_INT" = 0 ] || { R_OK=0; R_WHY+="integrity $R_INT; "; }
	[ "${R_MINOBJ:-0}" -ge "$expect" ] || { R_OK=0; R_WHY+="slowest got $R_MINOBJ < $expect; "; }
	awk -v p="$R_P99" -v m="$MAXP99" 'BEGIN { exit !(p <= m * 1000) }' || { R_OK=0; R_WHY+="p99 > $MAXP99 ms; "; }
	R_WHY=${R_WHY%; }
}

ROWS=() SUMROWS=()
for mode in $MODES; do
	for n in $COUNTS; do
		last="" lastpps="" first=""
		for tgt in $TARGETS; do
			rate=$((tgt / n))
			[ "$rate" -ge 1 ] || continue
			echo "== $mode, $n subscriber(s), $rate objects/s each ($((rate * n)) forwarded/s)"
			run_step "$mode" "$n" "$rate"
			if [ $R_OK = 0 ] && [ "$RETRY" = 1 ]; then
				echo "   LOSS/SLOW (1st try): $R_WHY | delivered $R_DELIV obj/s, p50 $R_P50 p99 $R_P99 us, load $R_LOAD; retrying once"
				ROWS+=("| $([ "$mode" = on ] && echo fast path || echo userspace) | $n | $rate | $((rate * n)) | LOSS/SLOW (1st try): $R_WHY | $R_DELIV | $R_TXPPS | $R_MISS / $R_INT | $R_P50 / $R_P99 | ${R_SHARE:--} | $R_PUBDROP | $R_LOAD |")
				run_step "$mode" "$n" "$rate"
			fi
			st=$([ $R_OK = 1 ] && echo clean || echo "LOSS/SLOW: $R_WHY")
			echo "   $st | delivered $R_DELIV obj/s, relay tx $R_TXPPS pkt/s, missing $R_MISS, p50 $R_P50 p99 $R_P99 us, kernel share ${R_SHARE:--}, publisher datagram drops $R_PUBDROP, load $R_LOAD"
			ROWS+=("| $([ "$mode" = on ] && echo fast path || echo userspace) | $n | $rate | $((rate * n)) | $st | $R_DELIV | $R_TXPPS | $R_MISS / $R_INT | $R_P50 / $R_P99 | ${R_SHARE:--} | $R_PUBDROP | $R_LOAD |")
			if [ $R_OK = 1 ]; then last=$((rate * n)) lastpps=$R_TXPPS; else first=$((rate * n)); break; fi
		done
		SUMROWS+=("| $([ "$mode" = on ] && echo fast path || echo userspace) | $n | ${last:-none} | ${lastpps:--} | ${first:-not reached} |")
	done
done

LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "# Throughput ceiling: forwarded packets/s before loss"
	echo
	echo "Generated by \`bench/throughput_ceiling.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC, $(($(date +%s) - T0)) s wall time."
	echo
	echo "- Machine: $(nproc) vCPU ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), Linux $(uname -r). Load average (1/5/15 min) $LOAD0 at the start, $LOAD1 at the end; other engineers' work shared the VM."
	echo "- Build: $BUILDINFO"
	echo "- Command: \`B=build bench/throughput_ceiling.sh\` (CEIL_SECONDS=$SECS CEIL_SIZE=$SIZE CEIL_TARGETS=\"$TARGETS\" CEIL_COUNTS=\"$COUNTS\" CEIL_MIN_SHARE=$MINSHARE CEIL_MAX_P99_MS=$MAXP99 CEIL_STREAMS=$STREAMS CEIL_RETRY=$RETRY)."
	echo "- Stream: $KIND, $SIZE-byte MQP1 objects ($UNIT; see below for packets), \`moq-pub --no-pacing\`, plaintext profile. netns testbed, $HOSTS subscriber namespaces (64 subscribers = 8 moq-sub per namespace)."
	echo "- Fast path: \`moq-relayd --fast-path on\` with the tc programs of \`tc-progs/relay.bpf.o\` (private pin root); userspace: \`--fast-path off\`, programs attached but passing through."
	echo "- Per step: moq-relayd starts, the N subscribers connect and re-send SUBSCRIBE every 200 ms (\`moq-sub --retry\`) until the publisher is there, so the handshakes do not overlap forwarding; when all N sessions are ready moq-pub starts; after 0.5 + N/100 s of warm-up ${SECS} s are measured (relay tx counters), then the subscribers are stopped (SIGTERM; their summary covers everything since the publisher started).
- A step is **clean** when every subscriber has objects_missing 0, integrity_errors 0, ≥ $MINSHARE % of the objects the publisher was asked for between its start and the end of the step (less 0.3 s for re-subscribing), and latency p99 ≤ $MAXP99 ms. Steps go up per (mode, count) until the first unclean one. Forwarded objects/s = objects/s asked of the publisher × subscribers. Relay tx pkt/s = tx_packets of the relay's subscriber-side veths over the ${SECS} measured seconds (media, ACKs and control packets). moq-pub may put several small frames into one QUIC packet when it falls behind, so at high rates packets/s < objects/s."
	echo "- The publisher, the relay and every moq-sub run on the same 2 vCPUs: a step can fail because the publisher or the subscribers run out of CPU, not the relay (see the load column; the delivered rate shows whether the publisher kept up)."
	echo
	echo "Unclean steps are run once more (CEIL_RETRY=$RETRY; the VM is shared, and one subscriber's p99 over a few seconds is noisy); a step counts as unclean only when the retry is unclean too; both rows are listed."
	echo
	echo "Datagrams moq-pub could not send (datagram variant only): its own count of datagrams dropped before the wire (QUIC datagram queue full or too late); these show as missing objects at every subscriber although the relay never saw them."
	echo
	echo "## Ceiling"
	echo
	echo "| mode | subscribers | last clean forwarded objects/s | relay tx pkt/s at that step | first unclean step |"
	echo "|---|---:|---:|---:|---:|"
	for r in "${SUMROWS[@]}"; do echo "$r"; done
	echo
	echo "## Steps"
	echo
	echo "| mode | subscribers | objects/s per subscriber | forwarded objects/s | result | delivered objects/s (all subs) | relay tx pkt/s | missing / integrity | latency p50 (median) / p99 (max) µs | kernel share | datagrams moq-pub could not send | load 1 min (start → end) |"
	echo "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"
	for r in "${ROWS[@]}"; do echo "$r"; done
} >"$OUT"
echo "wrote $OUT"
