#!/usr/bin/env bash
# bench/fanout_connections.sh - fan-out at audience scale (issue 18): one
# track to N subscriber connections made by a few `moq-sub --connections`
# processes (one per subscriber namespace), fast path (--fast-path on) and
# the userspace relay in the same run, at two loads:
#   audio  50 objects/s of 200 B, one group per second (50 objects)
#   video 100 objects/s of 1,000 B, one group per second (100 objects)
# Per (load, count, mode), over a window of FC_SECONDS once every connection
# is ready at the relay:
#   relay CPU   moq-relayd utime+stime (/proc/PID/stat), % of one core, and
#               µs per delivered object
#   relay waiting  time moq-relayd's threads were runnable but had no CPU
#               (/proc/PID/task/*/schedstat), % of the window: a relay that
#               falls behind with little CPU was starved, not idle
#   softirq     the whole machine's softirq time (/proc/stat), % of one core
#               (tc programs and veth delivery run there, for every process)
#   syscalls    moq-relayd's raw_syscalls:sys_enter (perf stat -p) per
#               delivered object
#   kernel share media packets forwarded by the tc egress program / all
#               media packets to subscribers (relay stats lines at the
#               window's ends; fast path only)
#   subs CPU    the moq-sub processes' CPU, % of one core (the testbed's
#               receivers share the 2 vCPUs with the relay)
#   relay socket drops  UDP datagrams the relay's namespace dropped at a
#               full socket receive buffer (/proc/net/snmp RcvbufErrors)
#   backlog drops  packets the machine dropped at a full per-CPU input
#               backlog (/proc/net/softnet_stat, netdev_max_backlog): every
#               veth delivery, so every clone, goes through it
# then every subscriber process gets SIGTERM and reports (--json):
#   connections_ok  connections with exit 0, no sequence gap, no integrity
#               error (moq-sub's own connections_ok is exit 0 only: without
#               --count a gap does not change the exit code); delivered share = objects received / (received +
#               sequence gaps) over all connections; latency p50 (median of
#               the processes' p50) / p99 (largest), publisher send -> receive.
# Delivered objects in the window (for the per-object figures) = N x rate x
# FC_SECONDS x delivered share.
# A count passes when connections_ok = N and p99 <= FC_MAX_P99_MS (a
# subscriber that falls behind shows as latency, not as gaps). Audio runs
# every count; video goes up per mode until the first failure.
#
#   B=build bench/fanout_connections.sh [--quick]
#
# Writes docs/results/fanout-connections$FC_TAG.{md,csv,png}.
# Environment: B, FC_SECONDS (8), FC_PROCS subscriber processes/namespaces
# (4), FC_AUDIO_COUNTS ("64 256 1000 2000"), FC_VIDEO_COUNTS ("64 256 512
# 1000 2000"), FC_MODES ("on off"), FC_LOADS ("audio video"),
# FC_MAX_P99_MS (1000), FC_TAG (file name suffix, e.g. -baseline),
# FC_PERF=1 (also perf record the relay over each window; the top symbols
# by self time go to docs/results/fanout-connections$FC_TAG-profile.txt),
# FC_BUILDS="NAME=DIR ..." (A/B: several builds in one run, interleaved
# per count — e.g. FC_BUILDS="base=/tmp/build-770d66a after=build"; each
# build's own relay.bpf.o is attached, under a pin root of its own, for its
# runs; default: "this=$B"),
# FC_NETDEV_BACKLOG=N (opt-in: set the machine-wide
# net.core.netdev_max_backlog to N for the run and restore it at exit; it
# bounds the per-CPU queue every veth delivery, so every clone, goes
# through — the first limit at 2,000 subscribers, results.md section 11),
# FC_RELAY_NICE=N (opt-in: run moq-relayd at nice N, e.g. -5, so that a
# VM shared with other work starves it less; say so when reporting),
# FC_RELAY_ARGS="..." (more moq-relayd options for every run, e.g.
# "--max-ack-delay 0.2"; say so when reporting),
# FC_PERF_KEEP=DIR (with FC_PERF=1: keep each window's perf.data in DIR),
# FC_PERF_CG (perf record's call-graph option, default -g),
# FC_STAT_EVENTS=EV,... (also count these perf events, e.g. uprobes, on the
# relay over the window; printed as "stat" lines),
# FC_CLASSIFY=1 (also classify, by frames, the packets crossing the relay's
# first subscriber interface over each window: bench/relay_udp_classify.py,
# docs/results/fanout-connections$FC_TAG-classify.txt),
# BENCH_KEEP=1 (keep the logs). --quick (or BENCH_QUICK=1): FC_SECONDS=4,
# counts "64 256" for both loads.
set -euo pipefail
BENCH_NAME=fanout_connections
. "$(dirname "$0")/lib.sh"
bench_quick_args "$@"
SECS=${FC_SECONDS:-8}
PROCS=${FC_PROCS:-4}
AUDIO_COUNTS=${FC_AUDIO_COUNTS:-64 256 1000 2000}
VIDEO_COUNTS=${FC_VIDEO_COUNTS:-64 256 512 1000 2000}
if [ "$QUICK" = 1 ]; then
	SECS=${FC_SECONDS:-4}
	AUDIO_COUNTS=${FC_AUDIO_COUNTS:-64 256} VIDEO_COUNTS=${FC_VIDEO_COUNTS:-64 256}
fi
MODES=${FC_MODES:-on off}
LOADS=${FC_LOADS:-audio video}
MAXP99=${FC_MAX_P99_MS:-1000}
TAG=${FC_TAG:-}
bench_init fc fanout-conn
RES=$ROOT/docs/results
OUT=$RES/fanout-connections$TAG
BUILDS=${FC_BUILDS:-this=$B}
BUILDINFO=""
for spec in $BUILDS; do
	B=${spec#*=}
	case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
	bench_need bin/moq-relayd bin/moq-pub bin/moq-sub tc-progs/relay.bpf.o -- jq perf gnuplot
	BUILDINFO+="${BUILDINFO:+; }**${spec%%=*}** ($B): $(bench_buildinfo)"
done
MNT0=$MNT
[ "${FC_PERF:-0}" = 1 ] && : >"$OUT-profile.txt"
[ "${FC_CLASSIFY:-0}" = 1 ] && : >"$OUT-classify.txt"
BACKLOG0=$(sysctl -n net.core.netdev_max_backlog)
bench_cleanup_extra() {
	rm -rf "$MNT0"-* # every build's pin root (bench_cleanup removes $MNT)
	[ "$(sysctl -n net.core.netdev_max_backlog)" = "$BACKLOG0" ] || sysctl -qw net.core.netdev_max_backlog="$BACKLOG0"
}
bench_traps
[ -z "${FC_NETDEV_BACKLOG:-}" ] || sysctl -qw net.core.netdev_max_backlog="$FC_NETDEV_BACKLOG"
bench_testbed_up "$PROCS"

# NAME DIR: run that build's binaries, with its relay.bpf.o attached on the
# relay's interfaces (pins under a root of its own: builds may differ in
# their map layout). Off runs leave the programs attached (no heartbeat:
# they pass everything through).
CUR_BUILD=""
use_build() {
	local h v
	case "$2" in /*) B=$2 ;; *) B=$ROOT/$2 ;; esac
	[ "$CUR_BUILD" != "$1" ] || return 0
	if [ -n "$CUR_BUILD" ]; then
		rtc qdisc del dev "$RELAY_IF_PUB" clsact
		for h in $(seq 1 "$PROCS"); do v=RELAY_IF_SUB_$h; rtc qdisc del dev "${!v}" clsact; done
	fi
	MNT=$MNT0-$1 PIN=$MNT0-$1/tc/globals
	bench_fast_attach "$B/tc-progs/relay.bpf.o" "$PROCS"
	CUR_BUILD=$1
}

load_rate() { case "$1" in audio) echo 50 ;; video) echo 100 ;; esac; }
load_size() { case "$1" in audio) echo 200 ;; video) echo 1000 ;; esac; }
softirq_ticks() { awk '/^cpu / { print $8 }' /proc/stat; }
# packets the kernel dropped because a CPU's input backlog was full
# (netdev_max_backlog), all CPUs: a veth delivers every clone through it
backlog_drops() { local t=0 x; for x in $(awk '{ print $2 }' /proc/net/softnet_stat); do t=$((t + 16#$x)); done; echo $t; }
# UDP datagrams dropped at a full socket receive buffer in the relay's
# namespace (/proc/net/snmp Udp RcvbufErrors): the relay's one socket takes
# the publisher's media and every subscriber's ACKs
relay_rcvbuf_errors() {
	nsenter --net="/run/netns/$RELAY_NS" awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { print $6 }' /proc/net/snmp
}
# UDP datagrams the relay's namespace received / sent (Udp InDatagrams,
# OutDatagrams): the relay's own packets only (the kernel's clones leave
# from tc, not from a socket), and the subscribers' packets that reached
# its socket (not those the kernel consumed)
relay_udp_inout() {
	nsenter --net="/run/netns/$RELAY_NS" awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { print $2, $5 }' /proc/net/snmp
}
# PID: ns its threads spent runnable but waiting for a CPU
# (/proc/PID/task/*/schedstat, second field)
run_wait_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $2 } END { printf "%.0f", t }'; }
stats_field() { # LOG KEY: KEY of the last fast-path stats line
	{ grep -o "fastpath subs=.*" "$1" || true; } | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | tr -d '%'
}
ticks_sum() { local p t=0; for p in "$@"; do t=$((t + $(cpu_ticks "$p" 2>/dev/null || echo 0))); done; echo $t; }

CSV_HEAD="build,load,mode,subscribers,result,connections_ok,delivered_share,relay_cpu_pct,relay_runq_wait_pct,relay_cpu_us_per_obj,softirq_pct,syscalls_per_obj,kernel_share,p50_us,p99_us,subs_cpu_pct,backlog_drops,relay_rcvbuf_drops,setup_s,load1,relay_udp_in_per_obj,relay_udp_out_per_obj"
CSV=("$CSV_HEAD")
ROWS=()

# run_count LOAD MODE N: sets R_* and appends a row
run_count() {
	local load=$1 mode=$2 n=$3 tag=$CUR_BUILD-$1-$2-$3-$RANDOM rate size rp pp k h per rest pids=() ready t0 t1
	rate=$(load_rate "$load") size=$(load_size "$load")
	local nicecmd=()
	[ -z "${FC_RELAY_NICE:-}" ] || nicecmd=(nice -n "$FC_RELAY_NICE")
	# shellcheck disable=SC2046
	in_ns "$RELAY_NS" "${nicecmd[@]}" "$B/bin/moq-relayd" $(relay_args "$mode") --max-sessions $((n + 64)) \
		--max-handshakes $((n + 64)) ${FC_RELAY_ARGS:-} 2>"$TMP/relay-$tag.log" &
	rp=$!; PIDS+=("$rp")
	waitlog "$TMP/relay-$tag.log" "listening on"
	in_ns "$PUB_NS" "$B/bin/moq-pub" --plaintext --rate "$rate" --object-size "$size" \
		--objects-per-group "$rate" "$RELAY_IP4:4443" 2>"$TMP/pub-$tag.log" &
	pp=$!; PIDS+=("$pp")
	waitlog "$TMP/relay-$tag.log" "publishes namespace"
	per=$((n / PROCS)) rest=$((n % PROCS))
	t0=$(date +%s.%N)
	for h in $(seq 1 "$PROCS"); do
		k=$per
		[ "$h" -le "$rest" ] && k=$((k + 1))
		[ "$k" -gt 0 ] || continue
		in_ns "$(sub_ns "$h")" "$B/bin/moq-sub" --plaintext --connections "$k" --json --quiet \
			--connect-timeout 90 "$(sub_gw "$h"):4443" >"$TMP/$tag-$h.json" 2>"$TMP/$tag-$h.log" &
		pids+=($!)
	done
	PIDS+=("${pids[@]}")
	# every session ready at the relay (the publisher's is one more);
	# gives up after 10 s without a new one (a client whose handshake
	# failed never comes: it is counted as not ok) or 90 s in all
	wait_ready "$TMP/relay-$tag.log" "$n"
	t1=$(date +%s.%N)
	R_SETUP=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	sleep 2 # the joins' catch-up (group in progress) is over
	local c0 c1 s0 s1 u0 u1 k0 a0 k1 a1 sc b0 b1 q0 q1 w0 w1
	k0=$(stats_field "$TMP/relay-$tag.log" kernel_pkts) a0=$(stats_field "$TMP/relay-$tag.log" agent_pkts)
	c0=$(cpu_ticks "$rp") s0=$(softirq_ticks) u0=$(ticks_sum "${pids[@]}") b0=$(backlog_drops) q0=$(relay_rcvbuf_errors) w0=$(run_wait_ns "$rp")
	local ud0 ud1
	ud0=$(relay_udp_inout)
	local pr=""
	if [ "${FC_PERF:-0}" = 1 ]; then
		perf record -q -F 499 ${FC_PERF_CG:--g} -p "$rp" -o "$TMP/perf-$tag.data" -- sleep "$SECS" >/dev/null 2>&1 &
		pr=$!
	fi
	local cl=""
	if [ "${FC_CLASSIFY:-0}" = 1 ]; then
		nsenter --net="/run/netns/$RELAY_NS" python3 "$ROOT/bench/relay_udp_classify.py" \
			"$RELAY_IF_SUB_1" "$SECS" >"$TMP/classify-$tag.txt" 2>&1 &
		cl=$!
	fi
	sc=$(perf stat -e raw_syscalls:sys_enter${FC_STAT_EVENTS:+,$FC_STAT_EVENTS} -x, -p "$rp" -- sleep "$SECS" 2>&1 | tee "$TMP/stat-$tag.txt" | awk -F, '/raw_syscalls/ { print $1 }')
	[ -n "${FC_STAT_EVENTS:-}" ] && awk -F, -v t="$tag" '{ print "   stat " t ": " $3 " " $1 }' "$TMP/stat-$tag.txt"
	if [ -n "$cl" ]; then
		wait "$cl" || true
		{
			echo "== $tag: packets on the relay's first subscriber interface ($RELAY_IF_SUB_1), bench/relay_udp_classify.py"
			cat "$TMP/classify-$tag.txt"
			grep -o "fastpath subs=.*" "$TMP/relay-$tag.log" | tail -1 || true
			echo
		} >>"$OUT-classify.txt"
	fi
	if [ -n "$pr" ]; then
		wait "$pr" || true
		[ -n "${FC_PERF_KEEP:-}" ] && cp "$TMP/perf-$tag.data" "$FC_PERF_KEEP/perf-$tag.data"
		{
			echo "== $load, $mode, $n subscriber connections: moq-relayd, perf record -F 499 -g over the window (self time)"
			perf report -i "$TMP/perf-$tag.data" --no-children --stdio --sort symbol -g none 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -25 || true
			echo
		} >>"$OUT-profile.txt"
	fi
	c1=$(cpu_ticks "$rp") s1=$(softirq_ticks) u1=$(ticks_sum "${pids[@]}") b1=$(backlog_drops) q1=$(relay_rcvbuf_errors) w1=$(run_wait_ns "$rp")
	ud1=$(relay_udp_inout)
	R_BDROP=$((b1 - b0)) R_QDROP=$((q1 - q0))
	R_WAIT=$(awk -v w=$((w1 - w0)) -v s="$SECS" 'BEGIN { printf "%.1f", 100 * w / 1e9 / s }')
	sleep 1.1 # one more stats line
	k1=$(stats_field "$TMP/relay-$tag.log" kernel_pkts) a1=$(stats_field "$TMP/relay-$tag.log" agent_pkts)
	for k in "${pids[@]}"; do kill -TERM "$k" 2>/dev/null || true; done
	for k in "${pids[@]}"; do timeout 30 tail --pid="$k" -f /dev/null || kill -9 "$k" 2>/dev/null || true; done
	stopwait "$pp"
	stopwait "$rp"
	R_LOAD=$(cut -d' ' -f1 /proc/loadavg)
	# subscriber summaries (a process without JSON: all its connections fail)
	local files=()
	for h in $(seq 1 "$PROCS"); do
		[ -s "$TMP/$tag-$h.json" ] && jq -e . "$TMP/$tag-$h.json" >/dev/null 2>&1 && files+=("$TMP/$tag-$h.json")
	done
	if [ ${#files[@]} -gt 0 ]; then
		read -r R_OK R_RECV R_MISS R_INT R_P50 R_P99 <<<"$(jq -rs '[
			([.[].per_connection[] | select(.exit_code == 0 and .objects_missing == 0 and .integrity_errors == 0)] | length),
			([.[].objects_received] | add), ([.[].objects_missing] | add),
			([.[].integrity_errors] | add),
			([.[].latency_us.p50] | sort | .[length/2|floor]), ([.[].latency_us.p99] | max)]
			| map(tostring) | join(" ")' "${files[@]}")"
	else
		R_OK=0 R_RECV=0 R_MISS=0 R_INT=0 R_P50=0 R_P99=0
	fi
	local hz=$HZ
	read -r R_SHARE_D R_CPU R_SIRQ R_SUBCPU <<<"$(awk -v r="$R_RECV" -v m="$R_MISS" -v c=$((c1 - c0)) \
		-v s=$((s1 - s0)) -v u=$((u1 - u0)) -v hz="$hz" -v w="$SECS" 'BEGIN {
		printf "%.2f %.1f %.1f %.1f", r + m ? 100 * r / (r + m) : 0, 100 * c / hz / w, 100 * s / hz / w, 100 * u / hz / w }')"
	local dobj
	dobj=$(awk -v n="$n" -v r="$rate" -v w="$SECS" -v d="$R_SHARE_D" 'BEGIN { printf "%.0f", n * r * w * d / 100 }')
	R_CPUOBJ=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v o="$dobj" 'BEGIN { printf "%.2f", o ? c / hz * 1e6 / o : 0 }')
	R_SC=$(awk -v c="${sc:-0}" -v o="$dobj" 'BEGIN { if (c !~ /^[0-9]+$/) print "-"; else printf "%.3f", o ? c / o : 0 }')
	read -r R_UIN R_UOUT <<<"$(awk -v a="$ud0" -v b="$ud1" -v o="$dobj" 'BEGIN { split(a, x, " "); split(b, y, " ");
		printf "%.3f %.3f", o ? (y[1] - x[1]) / o : 0, o ? (y[2] - x[2]) / o : 0 }')"
	R_KSHARE=-
	if [ -n "${k1:-}" ] && [ -n "${k0:-}" ]; then
		R_KSHARE=$(awk -v k=$((k1 - k0)) -v a=$((a1 - a0)) 'BEGIN { printf "%.2f", k + a ? 100 * k / (k + a) : 0 }')
	fi
	R_RES=pass
	[ "$R_OK" = "$n" ] || R_RES=FAIL
	awk -v p="$R_P99" -v m="$MAXP99" 'BEGIN { exit !(p / 1000 > m) }' && R_RES=FAIL
	[ "$ready" -gt "$n" ] || R_RES=FAIL
	local mname
	mname=$([ "$mode" = on ] && echo "fast path" || echo userspace)
	ROWS+=("| $CUR_BUILD | $load | $mname | $n | $R_RES | $R_OK / $n | $R_SHARE_D % | $R_CPU % | $R_WAIT % | $R_CPUOBJ | $R_SIRQ % | $R_SC | ${R_KSHARE} | $R_P50 / $R_P99 | $R_SUBCPU % | $R_BDROP | $R_QDROP | $R_SETUP s | $R_LOAD | $R_UIN / $R_UOUT |")
	CSV+=("$CUR_BUILD,$load,$mode,$n,$R_RES,$R_OK,$R_SHARE_D,$R_CPU,$R_WAIT,$R_CPUOBJ,$R_SIRQ,$R_SC,$R_KSHARE,$R_P50,$R_P99,$R_SUBCPU,$R_BDROP,$R_QDROP,$R_SETUP,$R_LOAD,$R_UIN,$R_UOUT")
	printf '   %-4s %s: %d/%d ok (ready %d in %s s), share %s %%, relay CPU %s %% (waiting %s %%, %s µs/obj), softirq %s %%, %s syscalls/obj, kernel share %s, p50 %s p99 %s µs, subs CPU %s %%, backlog drops %s, relay socket drops %s, load %s, relay UDP in/out per object %s / %s\n' \
		"$R_RES" "$mname" "$R_OK" "$n" "$((ready - 1))" "$R_SETUP" "$R_SHARE_D" "$R_CPU" "$R_WAIT" "$R_CPUOBJ" "$R_SIRQ" "$R_SC" "$R_KSHARE" "$R_P50" "$R_P99" "$R_SUBCPU" "$R_BDROP" "$R_QDROP" "$R_LOAD" "$R_UIN" "$R_UOUT"
}

echo "fanout_connections: builds $BUILDS, loads $LOADS, modes $MODES, ${SECS} s windows, $PROCS subscriber processes; audio counts $AUDIO_COUNTS; video counts $VIDEO_COUNTS"
declare -A STOPPED=()
for load in $LOADS; do
	counts=$AUDIO_COUNTS
	[ "$load" = video ] && counts=$VIDEO_COUNTS
	# per count every build and mode in turn, so that they share the VM's
	# conditions of that minute
	for n in $counts; do
		for spec in $BUILDS; do
			for mode in $MODES; do
				[ -z "${STOPPED[${spec%%=*}-$load-$mode]:-}" ] || continue
				use_build "${spec%%=*}" "${spec#*=}"
				echo "== ${spec%%=*}: $load, $mode, $n subscriber connections"
				run_count "$load" "$mode" "$n"
				# video: as far as each build and mode goes; audio: every count
				[ "$R_RES" = pass ] || [ "$load" = audio ] || STOPPED[${spec%%=*}-$load-$mode]=1
			done
		done
	done
done

ELAPSED=$(($(date +%s) - T0))
mkdir -p "$RES"
printf '%s\n' "${CSV[@]}" >"$OUT.csv"
# CPU vs subscribers: one data block per (build, load, mode)
idx=0 plots="" nb=$(wc -w <<<"$BUILDS")
: >"$TMP/plot.dat"
for spec in $BUILDS; do
	for load in $LOADS; do
		for mode in $MODES; do
			{
				echo "# ${spec%%=*} $load $mode"
				awk -F, -v b="${spec%%=*}" -v l="$load" -v m="$mode" '$1 == b && $2 == l && $3 == m { print $4, $8, $5 }' "$OUT.csv"
				printf '\n\n'
			} >>"$TMP/plot.dat"
			t="$([ "$nb" -gt 1 ] && echo "${spec%%=*}: ")$load, $([ "$mode" = on ] && echo 'fast path' || echo userspace)"
			plots+="${plots:+, }'$TMP/plot.dat' index $idx using 1:2 with linespoints lw 2 pt $((idx + 4)) $([ "$mode" = on ] || echo 'dt 2') title '$t'"
			idx=$((idx + 1))
		done
	done
done
gnuplot <<EOF
set terminal pngcairo size 900,560 font 'sans,10'
set output '$OUT.png'
set title 'moq-relayd CPU vs subscriber connections (one track; $(echo "$BUILDS" | sed "s/=[^ ]*//g"))'
set xlabel 'subscriber connections'
set ylabel 'relay process CPU, % of one core'
set logscale x 2
set xtics ($(echo $AUDIO_COUNTS $VIDEO_COUNTS | tr ' ' '\n' | sort -nu | paste -sd, -))
set key top left
set grid
plot $plots
EOF
{
	echo "# Fan-out with moq-sub --connections: relay CPU per subscriber count"
	echo
	echo "Generated by \`bench/fanout_connections.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC, ${ELAPSED} s wall time."
	echo
	echo "- Machine: $(nproc) vCPU ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), Linux $(uname -r). Load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (shared VM)."
	echo "- Builds: $BUILDINFO"
	echo "- Command: \`B=build bench/fanout_connections.sh$([ "$QUICK" = 1 ] && echo ' --quick')\` (${FC_BUILDS:+FC_BUILDS=\"$FC_BUILDS\" }${FC_NETDEV_BACKLOG:+FC_NETDEV_BACKLOG=$FC_NETDEV_BACKLOG }${FC_RELAY_NICE:+FC_RELAY_NICE=$FC_RELAY_NICE }FC_SECONDS=$SECS FC_PROCS=$PROCS FC_AUDIO_COUNTS=\"$AUDIO_COUNTS\" FC_VIDEO_COUNTS=\"$VIDEO_COUNTS\" FC_MODES=\"$MODES\" FC_MAX_P99_MS=$MAXP99)."
	echo "- Loads: audio = 50 objects/s of 200 B, video = 100 objects/s of 1,000 B; one group per second; plaintext profile. Subscribers: $PROCS \`moq-sub --connections N/$PROCS\` processes, one per subscriber namespace (separate veth links). The relay runs with \`--max-sessions\` and \`--max-handshakes\` N + 64 (all handshakes start at once)."
	echo "- Window: ${SECS} s, starting 2 s after the last session is ready at the relay. Relay CPU and softirq are % of one core over the window (softirq is the whole machine's); "relay waiting for a CPU" is the time its threads were runnable without a CPU (schedstat), % of the window. Syscalls: \`perf stat -e raw_syscalls:sys_enter -p\` on moq-relayd over the window. Per-object figures divide by N × rate × ${SECS} s × delivered share. Kernel share: kernel_pkts / (kernel_pkts + agent_pkts) between the relay's stats lines at the window's ends. Backlog drops: /proc/net/softnet_stat's dropped column over the window, whole machine (netdev_max_backlog $(sysctl -n net.core.netdev_max_backlog)): one upstream packet becomes N clones in one softirq, each queued to the receiving veth's per-CPU backlog. Other engineers' traffic on the VM counts too. Relay socket drops: Udp RcvbufErrors in the relay's namespace over the window (its socket takes the publisher's media and every subscriber's ACKs). Relay UDP datagrams in / out per object: Udp InDatagrams / OutDatagrams of the relay's namespace over the window per delivered object: what reached its socket (the publisher's packets and the subscribers' packets the kernel did not consume) and what it sent itself (ngtcp2's packets, the agent's media; never the kernel's clones)."
	echo "- Result: **pass** = every connection exit 0 with no sequence gap and no integrity error (connections_ok = N), p99 ≤ $MAXP99 ms. Audio runs every count; video stops per build and mode at its first failing count. Per count, every build and mode run in turn. Setup = time until every session is ready at the relay."
	echo
	echo "| build | load | mode | subscribers | result | connections_ok | delivered share | relay CPU | relay waiting for a CPU | relay CPU µs/object | softirq | relay syscalls/object | kernel share % | latency p50 / p99 µs | moq-sub CPU | backlog drops | relay socket drops | setup | load 1 min | relay UDP datagrams in / out per object |"
	echo "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for r in "${ROWS[@]}"; do echo "$r"; done
	echo
	echo "Plot: \`docs/results/$(basename "$OUT").png\` (relay CPU vs subscribers, both modes, both loads). CSV: \`docs/results/$(basename "$OUT").csv\`."
} >"$OUT.md"
echo "wrote $OUT.md $OUT.csv $OUT.png"
