#!/usr/bin/env bash
# bench/residence_tls.sh - relay residence time per copy over TLS (issue 19),
# from kernel timestamps, like bench/residence.sh does for plaintext. The
# stamps of tc-progs/testing/tstamp.bpf.o read the MQP1 sequence number in
# the packet, which TLS hides; here tc-progs/testing/tstamp_rec.bpf.o
# records the timestamp and the first 320 bytes of every UDP payload into a
# ring buffer (bench/tstamp.c `rec` writes them to a file) and
# bench/residence_tls.py decrypts them offline with the clients' TLS key
# logs (SSLKEYLOGFILE of moq-pub and every moq-sub), then
# bench/residence_report.py reports them like the plaintext bench.
# Stamp points, priority 1 (ahead of relay.bpf.o on the relay's interfaces):
#   in      clsact ingress of the relay's publisher-side interface (before
#           tc/upstream_ingress opens a TLS publisher's packet);
#   out     clsact egress of each relay subscriber-side interface: a
#           fast-path clone is recorded before tc/subscriber_egress rewrites
#           and seals it (still in the plaintext form, keyed by its mark),
#           a packet the agent sends is recorded sealed (by its address);
#   arrive  clsact ingress of each subscriber namespace's interface: every
#           copy sealed, after the veth hop (rows "… at the subscriber");
#   depart  clsact egress of the publisher namespace's interface: when the
#           publisher's packet left it (the timeline's first leg).
# Also per run: kernel.bpf_stats_enabled run counts and times of the
# relay's own tc programs (upstream_ingress, subscriber_egress) and of
# the agent's seal program (moq_subscriber_seal), for where the time goes.
# Modes, interleaved per subscriber count: tls-off (userspace over TLS),
# tls-on (fast path over TLS), plain-on (plaintext fast path, for
# reference, at the counts of RES_PLAIN_COUNTS).
#
#   B=build bench/residence_tls.sh [--quick]
#
# Writes docs/results/residence-tls$RES_TAG.{md,csv}. Environment: B,
# RES_COUNTS ("1 64"), RES_MODES ("plain-on tls-off tls-on"),
# RES_PLAIN_COUNTS ("1"), RES_SECONDS (4), RES_HOSTS (4), RES_TAG,
# RES_RATE (50 objects/s), RES_SIZE (200 B), RES_PER_GROUP (= RES_RATE),
# RES_ONE_PROC (0; 1: a moq-sub process per connection), RES_PUB_NICE (0:
# moq-pub's nice value), BENCH_KEEP=1.
# --quick: RES_COUNTS="1 8", RES_SECONDS=2.
# With objects larger than ~250 B a record holds only the packet's start:
# decrypted without the tag (bench/residence_tls.py).
set -euo pipefail
BENCH_NAME=residence_tls
. "$(dirname "$0")/lib.sh"
bench_quick_args "$@"
COUNTS=${RES_COUNTS:-1 64}
SECS=${RES_SECONDS:-4}
[ "$QUICK" = 1 ] && COUNTS=${RES_COUNTS:-1 8} SECS=${RES_SECONDS:-2}
MODES=${RES_MODES:-plain-on tls-off tls-on}
PLAIN_COUNTS=${RES_PLAIN_COUNTS:-1}
HOSTS=${RES_HOSTS:-4}
TAG=${RES_TAG:-}
RATE=${RES_RATE:-50} SIZE=${RES_SIZE:-200} PERGROUP=${RES_PER_GROUP:-$RATE}
# 1: one moq-sub process per subscriber connection (as bench/fastpath_tls.sh
# runs them) instead of RES_HOSTS processes with --connections
ONEPROC=${RES_ONE_PROC:-0}
# the publisher's nice value (0; e.g. -10 to test whether the publisher's
# own scheduling is what delays its objects)
PUBNICE=${RES_PUB_NICE:-0}
bench_init rl residence-tls
TSPIN=/sys/fs/bpf/moq-bench-$P-ts
OUT=$ROOT/docs/results/residence-tls$TAG
BUILDINFO=$(bench_buildinfo)
BENCH_NEED_HINT="install.sh: python3-cryptography"
bench_need bin/moq-relayd bin/moq-pub bin/moq-sub tc-progs/relay.bpf.o tc-progs/testing/tstamp_rec.bpf.o \
	-- python3 cc bpftool jq
python3 -c 'import cryptography' 2>/dev/null || die "python3 module cryptography missing (install.sh: python3-cryptography)"
# the decoder must decrypt a packet sealed with a known key before it is trusted
python3 "$ROOT/bench/residence_tls.py" --self-test
STATS0=$(sysctl -n kernel.bpf_stats_enabled)
REC_PID=
bench_cleanup_extra() {
	[ -z "$REC_PID" ] || kill "$REC_PID" 2>/dev/null || true
	rm -rf "$TSPIN"
	[ "$(sysctl -n kernel.bpf_stats_enabled)" = "$STATS0" ] || sysctl -qw kernel.bpf_stats_enabled="$STATS0"
}
bench_traps
sysctl -qw kernel.bpf_stats_enabled=1
TSTAMP=$TMP/tstamp
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -I"$ROOT/tc-progs" \
	"$ROOT/bench/tstamp.c" -lbpf -o "$TSTAMP"

bench_testbed_up "$HOSTS"
bench_fast_attach "$OBJ" "$HOSTS"
"$TSTAMP" load "$B/tc-progs/testing/tstamp_rec.bpf.o" "$TSPIN"
"$TSTAMP" attach "$TSPIN" "$RELAY_NS" "$RELAY_IF_PUB" ingress tsr_ingress
for h in $(seq 1 "$HOSTS"); do
	v=RELAY_IF_SUB_$h
	"$TSTAMP" attach "$TSPIN" "$RELAY_NS" "${!v}" egress tsr_egress
	v=SUB_IF_$h
	"$TSTAMP" attach "$TSPIN" "$(sub_ns "$h")" "${!v}" ingress tsr_arrive
done
"$TSTAMP" attach "$TSPIN" "$PUB_NS" "$PUB_IF" egress tsr_depart

# ids of the relay.bpf.o programs tc attached: "up" (publisher-side
# ingress) and "eg" (every subscriber-side egress)
tc_ids() { # DEV DIR SECTION
	rtc filter show dev "$1" "$2" | grep -F "[$3]" | grep -o ' id [0-9]*' | awk '{ print $2 }'
}
UP_IDS=$(tc_ids "$RELAY_IF_PUB" ingress tc/upstream_ingress)
EG_IDS=$(for h in $(seq 1 "$HOSTS"); do v=RELAY_IF_SUB_$h; tc_ids "${!v}" egress tc/subscriber_egress; done)
pinned_id() { bpftool -j prog show pinned "$1" | jq -r .id; }
TS_IN=$(pinned_id "$TSPIN/tsr_ingress") TS_EG=$(pinned_id "$TSPIN/tsr_egress")
[ -n "$UP_IDS" ] && [ -n "$EG_IDS" ] || die "no relay.bpf.o program ids from tc"
# the seal program the agent installed in moq_seal_prog (none: empty)
seal_id() { bpftool -j map dump pinned "$PIN/moq_seal_prog" 2>/dev/null | jq -r '.[0].formatted.value // empty' || true; }
# IDS...: "run_cnt run_time_ns" summed (0 0 for none)
prog_stats() {
	local id c=0 t=0 a b
	for id in "$@"; do
		read -r a b <<<"$(bpftool -j prog show id "$id" | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"')"
		c=$((c + a)) t=$((t + b))
	done
	echo "$c $t"
}
# the five groups: upstream_ingress, subscriber_egress, seal, tsr_egress, tsr_ingress
all_stats() { # SEAL_ID
	echo "$(prog_stats $UP_IDS) $(prog_stats $EG_IDS) $(prog_stats $1) $(prog_stats "$TS_EG") $(prog_stats "$TS_IN")"
}

# /proc/net/softnet_stat summed over CPUs: "processed dropped time_squeeze"
# (a squeeze: net_rx_action left work for later, budget or time used up)
softnet() {
	local a b c rest p=0 d=0 q=0
	while read -r a b c rest; do p=$((p + 16#$a)) d=$((d + 16#$b)) q=$((q + 16#$c)); done </proc/net/softnet_stat
	echo "$p $d $q"
}
# CPU ticks (utime + stime) of every ksoftirqd thread: softirq work
# deferred to a thread that competes with every process for the CPU
ksoftirqd_ticks() {
	local p t=0
	for p in $(pgrep -x 'ksoftirqd/[0-9]+'); do t=$((t + $(cpu_ticks "$p"))); done
	echo "$t"
}

# PID: "on-CPU ns, run-queue wait ns" (/proc/PID/schedstat)
sched_ns() { awk '{ print $1, $2 }' "/proc/$1/schedstat" 2>/dev/null || echo "0 0"; }
# PIDS...: the same summed
sched_sum() { local p; for p in "$@"; do sched_ns "$p"; done | awk '{ a += $1; w += $2 } END { printf "%.0f %.0f\n", a, w }'; }
# A0 W0 A1 W1 SECONDS_NS: "X ms on a CPU, Y ms waiting for one per s"
sched_rate() { awk -v a=$(($3 - $1)) -v w=$(($4 - $2)) -v t="$5" 'BEGIN { printf "%.0f ms on a CPU and %.0f ms waiting for one per second", a / t * 1e3, w / t * 1e3 }'; }

CERT=$TMP/dc
in_ns "$RELAY_NS" "$B/bin/moq-relayd" --dev-cert "$CERT" --listen 0.0.0.0:4443 --ctl-socket none \
	--stats-interval 0 2>"$TMP/certgen.log" &
cg=$!
PIDS+=($cg)
waitlog "$TMP/certgen.log" "listening on"
stopwait $cg
HASH=$(cat "$CERT/cert.sha256")

RUNS=() ARRIVE=() BREAKDOWN=() DECODED=() TIMELINE=() SYSTEM=()
run_one() { # MODE N
	local mode=$1 n=$2 tag=$1-$2 rp pp h k per rest pids=() cl rargs t0 t1 sid s0 s1 np0 nd0 nq0 np1 nd1 nq1 ks0 ks1 sys pa0 pw0 pa1 pw1 ra0 rw0 ra1 rw1 sa0 sw0 sa1 sw1
	if [ "${mode%-*}" = plain ]; then
		read -ra rargs <<<"$(relay_args "${mode#*-}" | tr "\n" " ")"
		cl=(--plaintext)
	else
		rargs=(--listen 0.0.0.0:4443 --cert "$CERT/cert.pem" --key "$CERT/key.pem" --log-level info
			--stats-interval 1 --ctl-socket none)
		[ "${mode#*-}" = on ] && rargs+=(--fast-path on --bpf-pin-dir "$PIN")
		cl=(--cert-hash "$HASH")
	fi
	"$TSTAMP" rec "$TSPIN" "$TMP/$tag.rec" &
	REC_PID=$!
	in_ns "$RELAY_NS" "$B/bin/moq-relayd" "${rargs[@]}" --max-sessions $((n + 64)) \
		--max-handshakes $((n + 64)) 2>"$TMP/relay-$tag.log" &
	rp=$!; PIDS+=("$rp")
	waitlog "$TMP/relay-$tag.log" "listening on"
	in_ns "$PUB_NS" nice -n "$PUBNICE" env SSLKEYLOGFILE="$TMP/$tag-pub.keys" "$B/bin/moq-pub" "${cl[@]}" --rate $RATE \
		--object-size "$SIZE" --objects-per-group "$PERGROUP" "$RELAY_IP4:4443" 2>"$TMP/pub-$tag.log" &
	pp=$!; PIDS+=("$pp")
	waitlog "$TMP/relay-$tag.log" "publishes namespace"
	per=$((n / HOSTS)) rest=$((n % HOSTS))
	if [ "$ONEPROC" = 1 ]; then
		for k in $(seq 1 "$n"); do
			h=$(((k - 1) % HOSTS + 1))
			in_ns "$(sub_ns "$h")" env SSLKEYLOGFILE="$TMP/$tag-sub$k.keys" "$B/bin/moq-sub" "${cl[@]}" \
				--json --quiet --connect-timeout 90 "$(sub_gw "$h"):4443" \
				>"$TMP/$tag-$k.json" 2>"$TMP/$tag-$k.log" &
			pids+=($!)
		done
	else
		for h in $(seq 1 "$HOSTS"); do
			k=$per
			[ "$h" -le "$rest" ] && k=$((k + 1))
			[ "$k" -gt 0 ] || continue
			in_ns "$(sub_ns "$h")" env SSLKEYLOGFILE="$TMP/$tag-sub$h.keys" "$B/bin/moq-sub" "${cl[@]}" \
				--connections "$k" --json --quiet --connect-timeout 90 "$(sub_gw "$h"):4443" \
				>"$TMP/$tag-$h.json" 2>"$TMP/$tag-$h.log" &
			pids+=($!)
		done
	fi
	PIDS+=("${pids[@]}")
	wait_ready "$TMP/relay-$tag.log" "$n"
	sleep 2
	sid=$(seal_id)
	t0=$("$TSTAMP" now)
	read -ra s0 <<<"$(all_stats "$sid")"
	read -r np0 nd0 nq0 <<<"$(softnet)"
	ks0=$(ksoftirqd_ticks)
	read -r pa0 pw0 <<<"$(sched_ns "$pp")"
	read -r ra0 rw0 <<<"$(sched_ns "$rp")"
	read -r sa0 sw0 <<<"$(sched_sum "${pids[@]}")"
	sleep "$SECS"
	read -r pa1 pw1 <<<"$(sched_ns "$pp")"
	read -r sa1 sw1 <<<"$(sched_sum "${pids[@]}")"
	stopwait "$pp" # no new objects; the last ones' copies leave
	sleep 0.5
	read -ra s1 <<<"$(all_stats "$sid")"
	t1=$("$TSTAMP" now)
	read -r ra1 rw1 <<<"$(sched_ns "$rp")"
	read -r np1 nd1 nq1 <<<"$(softnet)"
	ks1=$(ksoftirqd_ticks)
	for k in "${pids[@]}"; do kill -TERM "$k" 2>/dev/null || true; done
	for k in "${pids[@]}"; do timeout 30 tail --pid="$k" -f /dev/null || kill -9 "$k" 2>/dev/null || true; done
	stopwait "$rp"
	sleep 0.3
	kill -TERM "$REC_PID"
	wait "$REC_PID" || die "tstamp rec failed"
	REC_PID=
	# no key log in plaintext runs (nothing to decrypt)
	python3 "$ROOT/bench/residence_tls.py" --rec "$TMP/$tag.rec" --keylog $(compgen -G "$TMP/$tag-*.keys" || true) \
		--from "$t0" --to "$t1" --out "$TMP/$tag.dump" --arrive-out "$TMP/$tag-arrive.dump" \
		--sent-out "$TMP/$tag.sent" --depart-out "$TMP/$tag.depart" 2>"$TMP/$tag.dec"
	local d i c t
	d=() # per group: runs, mean ns per run, total ns
	for i in 0 2 4 6 8; do
		c=$((s1[i] - s0[i])) t=$((s1[i + 1] - s0[i + 1]))
		d+=("$c" "$(awk -v c="$c" -v t="$t" 'BEGIN { printf "%.0f", c ? t / c : 0 }')" "$t")
	done
	echo "   $mode n=$n: $((ready - 1)) sessions ready, $(wc -l <"$TMP/$tag.dump") stamps, $(cat "$TMP/$tag.dec")"
	echo "     runs/mean ns: upstream_ingress ${d[0]}/${d[1]}, subscriber_egress ${d[3]}/${d[4]}, seal ${d[6]}/${d[7]}, tsr_egress ${d[9]}/${d[10]}, tsr_ingress ${d[12]}/${d[13]}"
	sys="softnet processed $((np1 - np0)), dropped $((nd1 - nd0)), time_squeeze $((nq1 - nq0)); ksoftirqd $(awk -v t=$((ks1 - ks0)) -v hz="$HZ" -v s="$(((t1 - t0) / 1000000))" 'BEGIN { printf "%.0f ms CPU in %.1f s", t / hz * 1000, s / 1000 }'); publisher: $(grep -o 'sent [0-9]* objects' "$TMP/pub-$tag.log" | tail -1) in the whole run, $(sched_rate "$pa0" "$pw0" "$pa1" "$pw1" $((SECS * 1000000000))) in the window; moq-relayd: $(sched_rate "$ra0" "$rw0" "$ra1" "$rw1" $((t1 - t0))); the moq-sub processes together: $(sched_rate "$sa0" "$sw0" "$sa1" "$sw1" $((SECS * 1000000000)))"
	echo "     $sys"
	SYSTEM+=("$mode n=$n: $sys")
	RUNS+=(--run "$mode" "$n" "$TMP/$tag.dump" "${d[10]}" "${d[13]}")
	ARRIVE+=(--run "$mode@rx" "$n" "$TMP/$tag-arrive.dump" "${d[10]}" "${d[13]}")
	TIMELINE+=("$mode $n $TMP/$tag.sent $TMP/$tag.depart $TMP/$tag-arrive.dump $(compgen -G "$TMP/$tag-*.json" | paste -sd,)")
	BREAKDOWN+=("$mode $n $(grep -c '^1 ' "$TMP/$tag.dump" || true) ${d[*]}")
	DECODED+=("$mode n=$n: $(sed 's/^residence_tls: //' "$TMP/$tag.dec")")
}

echo "residence_tls: modes $MODES, counts $COUNTS (plaintext at $PLAIN_COUNTS), ${SECS} s windows, $HOSTS subscriber processes"
for n in $COUNTS; do
	for mode in $MODES; do
		[ "${mode%-*}" != plain ] || [[ " $PLAIN_COUNTS " == *" $n "* ]] || continue
		echo "== $mode, $n subscriber connections"
		run_one "$mode" "$n"
	done
done
STATS=$("$TSTAMP" recstats "$TSPIN")
mkdir -p "$ROOT/docs/results"
TABLE=$(python3 "$ROOT/bench/residence_report.py" "${RUNS[@]}" "${ARRIVE[@]}" --csv "$OUT.csv")
BTABLE=$(python3 "$ROOT/bench/residence_report.py" --breakdown "${BREAKDOWN[@]}")
TTABLE=$(python3 "$ROOT/bench/residence_report.py" --timeline "${TIMELINE[@]}")
echo "$TABLE"
echo "$BTABLE"
echo "$TTABLE"
{
	echo "# Relay residence time per copy over TLS (kernel timestamps, decrypted offline)"
	echo
	echo "Generated by \`bench/residence_tls.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC, $(($(date +%s) - T0)) s wall time."
	echo
	echo "- Machine: $(nproc) vCPU, Linux $(uname -r). Load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (shared VM)."
	echo "- Build: $BUILDINFO"
	echo "- Command: \`B=build bench/residence_tls.sh$([ "$QUICK" = 1 ] && echo ' --quick')\` (RES_COUNTS=\"$COUNTS\" RES_MODES=\"$MODES\" RES_PLAIN_COUNTS=\"$PLAIN_COUNTS\" RES_SECONDS=$SECS RES_HOSTS=$HOSTS RES_RATE=$RATE RES_SIZE=$SIZE RES_PER_GROUP=$PERGROUP RES_ONE_PROC=$ONEPROC RES_PUB_NICE=$PUBNICE)."
	echo "- Load: $RATE objects/s of $SIZE B, $PERGROUP objects per group; TLS 1.3 (AES-128-GCM) on every link in the tls-* modes, the plaintext profile in plain-on; subscribers: $([ "$ONEPROC" = 1 ] && echo "one \`moq-sub\` process per connection over $HOSTS namespaces" || echo "$HOSTS \`moq-sub --connections\` processes")."
	echo "- Records: \`tc-progs/testing/tstamp_rec.bpf.o\` (timestamp + the first 320 payload bytes of each copy, the whole payload of each publisher packet; ring buffer, no wakeups) at priority 1 on the publisher's own interface egress (depart), the relay's publisher-side ingress (in), every relay subscriber-side egress (out; a fast-path clone before its rewrite and seal, in the plaintext form) and every subscriber namespace's ingress (arrive, rows \"at the subscriber\": after the seal and the veth hop). Decrypted by \`bench/residence_tls.py\` with the clients' SSLKEYLOGFILE logs (whole packets: AES-GCM tag checked; longer ones: their prefix, unauthenticated, accepted only with an MQP1 header). Recorder counters at the end: \`$STATS\`."
	echo "- Columns as in residence.md; \"agent copy\" = every copy not keyed by a clone's mark (at the subscriber every copy is). \"stamp ns\" = tsr_egress / tsr_ingress mean run time."
	echo
	echo "$TABLE"
	echo
	echo "Where the time goes (kernel.bpf_stats_enabled over the window; runs = program runs, ns = mean per run, µs/object = the program's total time per upstream object; the seal program runs once per sealed clone):"
	echo
	echo "$BTABLE"
	echo
	echo "Timeline per object (the publisher's CLOCK_MONOTONIC send time from the MQP1 header, the record on the publisher's own interface egress (depart), the relay's ingress, the subscriber's interface; the subscribers' own latency from their --json reports, over their whole run, not only the window). Objects whose header starts past the 320 captured bytes of a copy have no copy stamps: the columns per copy cover the objects \"with copies stamped\" only, the first two legs every object:"
	echo
	echo "$TTABLE"
	echo
	echo "The machine over each window (all namespaces, every engineer's work on the VM included), and the publisher's and the relay's scheduling (/proc/PID/schedstat: time on a CPU, time runnable but waiting for one; softirq work a process's system call runs for the kernel, e.g. the relay's tc programs after moq-pub's own transmit on the veth, counts as that process's time on a CPU):"
	echo
	for s in "${SYSTEM[@]}"; do echo "- $s"; done
	echo
	echo "Decoder counters per run (records of the whole run, window or not; clear = MQP1 found without decrypting; opened_tag / opened_prefix = decrypted with the tag checked / prefix only (objects longer than the 320 captured bytes); key_updated = opened with a later key generation; no_key = a short-header packet no logged key opened (for a prefix: or one without an object from a connection not yet matched); no_object = decrypted with its connection's key, no MQP1 header in the captured bytes (a packet continuing an object, ACK-only, control); clone_no_object = a kernel clone (plaintext form) without one):"
	echo
	for s in "${DECODED[@]}"; do echo "- $s"; done
} >"$OUT.md"
echo "wrote $OUT.md $OUT.csv"
