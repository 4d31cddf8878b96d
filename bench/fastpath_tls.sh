#!/usr/bin/env bash
# bench/fastpath_tls.sh - issue 19's targets: a TLS relay with the fast path
# off (userspace) vs on (AES-128-GCM sealed in the kernel), same workload,
# same run (interleaved per subscriber count and round), on the netns
# testbed; no --plaintext anywhere (the relay's --dev-cert pinned by the
# clients with --cert-hash).
#   latency  publisher send -> subscriber receive (CLOCK_MONOTONIC in the
#            payload, one host), median of the subscribers' p50; relay-added
#            = that minus the same figure without a relay (moq-pub --listen,
#            subscribers connect to it through the relay namespace's
#            routing: "direct", 1 subscriber only);
#   CPU      relay process utime+stime per delivered object, and the whole
#            machine's softirq time per delivered object (where the tc
#            programs, and so the kernel's sealing, run);
#   share    fast path only: media packets sealed by the kernel vs written
#            by the agent; the egress program's FORWARDED count (sealed).
# Writes docs/results/fastpath-tls.md.
# Environment: B, BENCH_SECONDS (8), BENCH_RATE objects/s (500), BENCH_SIZE
# (1000), BENCH_COUNTS ("1 64"), BENCH_ROUNDS (2), BENCH_OUT (report file),
# BENCH_MODES ("off on"; direct is added at 1 subscriber; "noack" is the
# fast path with --fast-path-no-tls-acks: the subscribers' ACKs to the agent,
# not consumed in the kernel).
set -euo pipefail
BENCH_NAME=fastpath_tls
. "$(dirname "$0")/lib.sh"
SECS=${BENCH_SECONDS:-8}
RATE=${BENCH_RATE:-500}
SIZE=${BENCH_SIZE:-1000}
COUNTS=${BENCH_COUNTS:-1 64}
ROUNDS=${BENCH_ROUNDS:-2}
HOSTS=8
bench_init ft fp-tls-bench
OUT=${BENCH_OUT:-$ROOT/docs/results/fastpath-tls.md}
BUILD=$(bench_buildinfo)

bench_need bin/moq-relayd bin/moq-pub bin/moq-sub tc-progs/relay.bpf.o -- jq bpftool python3
WAITLOG_TRIES=100
bench_traps
bench_testbed_up $HOSTS
bench_fast_attach "$OBJ" $HOSTS

CERT=$TMP/dc
# the relay's development certificate, made once (every relay run loads it)
in_ns "$RELAY_NS" "$B/bin/moq-relayd" --dev-cert "$CERT" --listen 0.0.0.0:4443 --ctl-socket none \
	--stats-interval 0 2>"$TMP/certgen.log" &
cg=$!
PIDS+=($cg)
waitlog "$TMP/certgen.log" "listening on"
stopwait $cg
HASH=$(cat "$CERT/cert.sha256")
# moq-pub --listen (direct mode) serves with the same certificate
PUBTLS=(--cert "$CERT/cert.pem" --key "$CERT/key.pem")

PUBARGS=(--rate "$RATE" --object-size "$SIZE" --objects-per-group 10)
relay_tls_args() { # MODE
	echo --listen 0.0.0.0:4443 --cert "$CERT/cert.pem" --key "$CERT/key.pem" --log-level info \
		--stats-interval 1 --ctl-socket none --max-handshakes 200 --metrics-listen 127.0.0.1:9471
	[ "$1" = on ] && echo --fast-path on --bpf-pin-dir "$PIN"
	[ "$1" = noack ] && echo --fast-path on --bpf-pin-dir "$PIN" --fast-path-no-tls-acks
	true
}

run_subs() { # N TAG TARGET(gw|pub)
	local n=$1 tag=$2 k h pids=() dst
	for k in $(seq 1 "$n"); do
		h=$(((k - 1) % HOSTS + 1))
		if [ "$3" = pub ]; then dst=$PUB_IP4; else dst=$(sub_gw "$h"); fi
		in_ns "$(sub_ns "$h")" "$B/bin/moq-sub" --cert-hash "$HASH" --duration "$SECS" --json --quiet \
			--connect-timeout 20 "$dst:4443" >"$TMP/$tag-$k.json" 2>"$TMP/$tag-$k.log" &
		pids+=($!)
	done
	PIDS+=("${pids[@]}")
	for k in "${pids[@]}"; do timeout $((SECS + 40)) tail --pid="$k" -f /dev/null || true; done
}

summarize() { # TAG N -> "p50 p99 objects missing integrity"
	jq -s '{p50: ([.[].latency_us.p50] | sort | .[length/2|floor]),
		p99: ([.[].latency_us.p99] | max),
		objs: ([.[].objects_received] | add), miss: ([.[].objects_missing] | add),
		integ: ([.[].integrity_errors] | add)} | "\(.p50) \(.p99) \(.objs) \(.miss) \(.integ)"' -r \
		$(for k in $(seq 1 "$2"); do [ -s "$TMP/$1-$k.json" ] && echo "$TMP/$1-$k.json"; done)
}
softirq_ticks() { awk '/^cpu / { print $8 }' /proc/stat; }
# packets the egress program forwarded (sealed) so far, summed over CPUs;
# with PROG REASON (numbers): that moq_stats entry's
egress_fwd() {
	local r
	r=$(printf '#include "moq_maps.h"\n#define N(id, name) name\nMOQ_REASONS(N)\n' |
		cpp -P -I"$ROOT/tc-progs" - | tail -1 | wc -w)
	[ $# = 2 ] && r=$(($1 * r + $2))
	bpftool -j map lookup pinned "$PIN/moq_stats" key $((r & 255)) $((r >> 8 & 255)) 0 0 | python3 -c '
import json, sys
print(sum(int.from_bytes(bytes(int(x, 16) for x in v["value"][:8]), "little") for v in json.load(sys.stdin)["values"]))'
}

# UDP datagrams the relay's QUIC endpoint has received so far (its metrics)
relay_rx_dgrams() {
	in_ns "$RELAY_NS" python3 "$ROOT/tests/integration/metrics/scrape.py" -o /dev/stdout \
		http://127.0.0.1:9471/metrics 2>/dev/null | awk '$1 == "moq_relay_quic_rx_datagrams_total" { print $2 }'
}

run_direct() { # N -> R_*
	local n=$1 tag=direct$1 pp
	in_ns "$PUB_NS" "$B/bin/moq-pub" --listen 0.0.0.0:4443 "${PUBTLS[@]}" "${PUBARGS[@]}" \
		2>"$TMP/pub-$tag.log" &
	pp=$!; PIDS+=($pp)
	sleep 0.5
	run_subs "$n" "$tag" pub
	stopwait $pp
	read -r R_P50 R_P99 R_OBJ R_MISS R_INT <<<"$(summarize "$tag" "$n")"
	R_CPU=- R_SIRQ=- R_SHARE=- R_SEALED=- R_ACKS=- R_RX=-
}

run_mode() { # MODE N ROUND -> R_*
	local mode=$1 n=$2 tag=$1$2r$3 rp pp c0 c1 s0 s1 e0 e1 a0 a1 x0 x1 d0 d1
	# shellcheck disable=SC2046
	in_ns "$RELAY_NS" "$B/bin/moq-relayd" $(relay_tls_args "$mode") 2>"$TMP/relay-$tag.log" &
	rp=$!; PIDS+=($rp)
	waitlog "$TMP/relay-$tag.log" "listening on"
	in_ns "$PUB_NS" "$B/bin/moq-pub" --cert-hash "$HASH" "${PUBARGS[@]}" "$RELAY_IP4:4443" \
		2>"$TMP/pub-$tag.log" &
	pp=$!; PIDS+=($pp)
	waitlog "$TMP/relay-$tag.log" "publishes namespace"
	c0=$(cpu_ticks $rp) s0=$(softirq_ticks) e0=$(egress_fwd)
	a0=$(egress_fwd 2 "$R_ACKC") x0=$(egress_fwd 2 "$R_SUBRX") d0=$(relay_rx_dgrams)
	run_subs "$n" "$tag" gw
	c1=$(cpu_ticks $rp) s1=$(softirq_ticks) e1=$(egress_fwd)
	a1=$(egress_fwd 2 "$R_ACKC") x1=$(egress_fwd 2 "$R_SUBRX") d1=$(relay_rx_dgrams)
	# subscriber packets consumed in the kernel / consumed + passed
	R_ACKS=$(awk -v a=$((a1 - a0)) -v x=$((x1 - x0)) 'BEGIN { printf "%.1f%%", a + x ? 100 * a / (a + x) : 0 }')
	sleep 1.1
	R_SHARE=$(grep -o 'kernel_share=[0-9.]*' "$TMP/relay-$tag.log" | tail -1 | cut -d= -f2 || true)
	R_SEALED=$((e1 - e0))
	stopwait $pp
	stopwait $rp
	read -r R_P50 R_P99 R_OBJ R_MISS R_INT <<<"$(summarize "$tag" "$n")"
	R_CPU=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v o="$R_OBJ" 'BEGIN { printf "%.2f", o ? t / hz * 1e6 / o : 0 }')
	# datagrams the relay read per delivered object (each a syscall share, an open, ngtcp2)
	R_RX=$(awk -v d=$((${d1:-0} - ${d0:-0})) -v o="$R_OBJ" 'BEGIN { printf "%.3f", o ? d / o : 0 }')
	R_SIRQ=$(awk -v t=$((s1 - s0)) -v hz="$HZ" -v o="$R_OBJ" 'BEGIN { printf "%.2f", o ? t / hz * 1e6 / o : 0 }')
	[ "$mode" = off ] && R_SHARE=- R_ACKS=-
	true
}

reason_no() { # NAME -> its moq_reason number
	printf '#include "moq_maps.h"\n#define N(id, name) name\nMOQ_REASONS(N)\n' |
		cpp -P -I"$ROOT/tc-progs" - | tail -1 | tr -s ' ' '\n' | grep -v '^$' |
		grep -nx "\"$1\"" | cut -d: -f1 | awk '{ print $1 - 1 }'
}
R_ACKC=$(reason_no ack_consumed)
R_SUBRX=$(reason_no sub_rx)
ROWS=()
declare -A DIRECT P50 CPU
for n in $COUNTS; do
	for r in $(seq 1 "$ROUNDS"); do
		echo "== $n subscriber(s), round $r"
		modes=${BENCH_MODES:-off on}
		[ "$n" = 1 ] && modes="direct $modes"
		for mode in $modes; do
			if [ "$mode" = direct ]; then run_direct "$n"; else run_mode "$mode" "$n" "$r"; fi
			echo "   $mode: p50 $R_P50 p99 $R_P99 us | relay CPU $R_CPU us/obj | softirq $R_SIRQ us/obj | objects $R_OBJ missing $R_MISS integrity $R_INT | kernel share ${R_SHARE:--} | sealed by egress $R_SEALED | subscriber packets consumed ${R_ACKS:--} | relay rx datagrams/object ${R_RX:--}"
			ROWS+=("| $n | $r | $mode | $R_P50 / $R_P99 | $R_CPU | $R_SIRQ | $R_OBJ | $R_MISS / $R_INT | ${R_SHARE:--} | $R_SEALED | ${R_ACKS:--} | ${R_RX:--} |")
			P50[$n,$r,$mode]=$R_P50
			CPU[$n,$r,$mode]=$R_CPU
		done
	done
done

# relay-added p50 at 1 subscriber and CPU per object at the largest count,
# off / on, per round
SUMMARY=()
big=$(tr ' ' '\n' <<<"$COUNTS" | sort -n | tail -1)
for r in $(seq 1 "$ROUNDS"); do
	[[ " ${BENCH_MODES:-off on} " == *" on "* && " ${BENCH_MODES:-off on} " == *" off "* ]] || break
	if [[ " $COUNTS " == *" 1 "* ]]; then
		SUMMARY+=("round $r: $(awk -v d="${P50[1,$r,direct]}" -v a="${P50[1,$r,off]}" -v b="${P50[1,$r,on]}" 'BEGIN {
			printf "relay-added p50 at 1 subscriber: userspace %.1f us, fast path %.1f us (", a - d, b - d
			if (b - d > 0) printf "%.1fx lower)", (a - d) / (b - d); else printf "fast path at or below the floor)" }')")
	fi
	SUMMARY+=("round $r: relay CPU per delivered object at $big subscribers: userspace ${CPU[$big,$r,off]} us, fast path ${CPU[$big,$r,on]} us ($(awk -v a="${CPU[$big,$r,off]}" -v b="${CPU[$big,$r,on]}" 'BEGIN { if (b > 0) printf "%.1fx lower", a / b; else print "-" }'))")
done
for r in $(seq 1 "$ROUNDS"); do
	[[ " ${BENCH_MODES:-off on} " == *" noack "* ]] || break
	SUMMARY+=("round $r: relay CPU per delivered object at $big subscribers, fast path with the subscribers' ACKs to the agent (noack) ${CPU[$big,$r,noack]} us, consumed in the kernel (on) ${CPU[$big,$r,on]} us; userspace / on $(awk -v a="${CPU[$big,$r,off]:-0}" -v b="${CPU[$big,$r,on]}" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", a / b; else print "-" }'), userspace / noack $(awk -v a="${CPU[$big,$r,off]:-0}" -v b="${CPU[$big,$r,noack]}" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", a / b; else print "-" }')")
done
for s in "${SUMMARY[@]}"; do echo "$s"; done

{
	echo "# moq-relayd over TLS: fast path off vs on (issue 19)"
	echo
	echo "Generated by \`bench/fastpath_tls.sh\` on $(date -u +%Y-%m-%d) ($(uname -r), $(nproc) vCPUs),"
	echo "load average at the start $LOAD0, at the end $(cut -d' ' -f1-3 /proc/loadavg); $BUILD."
	echo "Synthetic track, $SIZE-byte objects at $RATE objects/s, 10 objects per group, TLS 1.3"
	echo "(TLS_AES_128_GCM_SHA256) on every link, ${SECS} s per run, $ROUNDS rounds, netns testbed with $HOSTS"
	echo "subscriber hosts. Modes interleaved per subscriber count and round: *direct* (moq-pub"
	echo "--listen, subscribers connect to it, routed by the relay namespace: the floor), *off*"
	echo "(moq-relayd userspace), *on* (moq-relayd --fast-path on: publisher packets opened and"
	echo "clones sealed in tc). Latency: payload CLOCK_MONOTONIC send time to receive time in moq-sub"
	echo "(median of the subscribers' p50, largest p99), µs. Relay CPU: moq-relayd utime+stime per"
	echo "delivered object. Softirq: the machine's softirq time per delivered object (the tc"
	echo "programs' opening and sealing run there, with every process's packet processing)."
	echo "Kernel share: the agent's \`kernel_share\`. Sealed: the egress program's FORWARDED count."
	echo
	echo "Consumed: the subscribers' packets the kernel consumed (media ACKs, opened in tc) out of"
	echo "those consumed or passed to the agent (\`ack_consumed\` / + \`sub_rx\`); *noack* is *on*"
	echo "with \`--fast-path-no-tls-acks\` (every subscriber ACK to the agent, as before issue 19's ACK work)."
	echo
	echo "Rx dgrams: UDP datagrams the relay's QUIC endpoint read per delivered object"
	echo "(\`moq_relay_quic_rx_datagrams_total\`: each one a share of a recvmmsg, an open, ngtcp2)."
	echo
	echo "| subscribers | round | mode | p50 / p99 (µs) | relay CPU µs/object | softirq µs/object | objects | missing / integrity | kernel share | sealed by egress | consumed | rx dgrams/object |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	for r in "${ROWS[@]}"; do echo "$r"; done
	echo
	for s in "${SUMMARY[@]}"; do echo "- $s"; done
	echo
	echo "The VM has 2 vCPUs shared by the publisher, the relay and every moq-sub; at 64"
	echo "subscribers the subscribers' own TLS and QUIC dominate the machine."
} >"$OUT"
echo "wrote $OUT"
