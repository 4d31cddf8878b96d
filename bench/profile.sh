#!/usr/bin/env bash
# bench/profile.sh - where does moq-relayd spend its CPU per forwarded object,
# fast path on vs off, same workload (the scaffolding of
# bench/fastpath_onoff.sh: netns testbed, 8 subscriber hosts, synthetic
# track). Per (subscriber count, mode), one run records, in a measuring
# window while every subscriber receives:
#   perf     `perf record --call-graph dwarf` of the moq-relayd process
#            (top symbols self and children, by DSO) and `perf stat`
#            (task-clock, context switches, migrations, page faults);
#   CPU      utime/stime of the relay from /proc/PID/stat;
#   BPF      kernel.bpf_stats_enabled=1: run_cnt and run_time_ns of the tc
#            programs this script attached (ns per run, runs per object);
#   packets  rx/tx counters of the relay's veths: from the publisher, from
#            subscribers (ACKs), to subscribers (clones + the relay's own);
#   events   ring-buffer events the agent handled (its `fastpath ...
#            events=` stats line) per forwarded packet and per object;
# and a second run under `strace -c -f`: the syscalls that remain per object.
# Writes docs/results/profile.md (PROFILE_OUT).
# Environment: B, BENCH_SECONDS (10), BENCH_RATE objects/s (300), BENCH_SIZE
# (1000), BENCH_COUNTS ("1 8 32"), BENCH_MODES ("off on"), BENCH_QUICK=1 or
# --quick (4 s, 8 subscribers), BENCH_KEEP=1 (keep perf data and logs).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
[ "${1:-}" = --quick ] && BENCH_QUICK=1
SECS=${BENCH_SECONDS:-10}
RATE=${BENCH_RATE:-300}
SIZE=${BENCH_SIZE:-1000}
COUNTS=${BENCH_COUNTS:-1 8 32}
MODES=${BENCH_MODES:-off on}
if [ "${BENCH_QUICK:-0}" = 1 ]; then SECS=6 COUNTS=${BENCH_COUNTS:-8}; fi
WARM=1.5                           # seconds after the subscribers start
WIN=$(awk -v s="$SECS" 'BEGIN { w = s - 3; print (w < 1 ? 1 : w) }') # measuring window
HOSTS=8
P=pf$$
P=${P:0:12}
TB=$ROOT/netns/testbed.sh
OUT=${PROFILE_OUT:-$ROOT/docs/results/profile.md}
TMP=$(mktemp -d /tmp/profile-bench.XXXXXX)
MNT=/sys/fs/bpf/moq-bench-$P
PIN=$MNT/tc/globals
PIDS=()
STATS0=""
BUILDINFO="git HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- agent tc-progs moq 2>/dev/null || echo ' plus uncommitted changes under agent/, tc-progs/ or moq/'); moq-relayd built $(date -u -r "$B/bin/moq-relayd" '+%Y-%m-%d %H:%M:%S' 2>/dev/null) UTC"

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"
for t in bin/moq-relayd bin/moq-pub bin/moq-sub tc-progs/relay.bpf.o; do [ -e "$B/$t" ] || die "$B/$t missing (make)"; done
for t in jq strace perf bpftool; do command -v $t >/dev/null || die "$t missing (Debian: apt-get install jq strace linux-perf bpftool)"; done

cleanup() {
	local p
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "$STATS0" ] && sysctl -q -w kernel.bpf_stats_enabled="$STATS0" >/dev/null 2>&1 || true
	"$TB" down --prefix "$P" >/dev/null 2>&1 || true
	[ "${BENCH_KEEP:-0}" = 1 ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
	rm -rf "$MNT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# private copies: other engineers rebuild build/ while this runs, and perf
# needs the exact binaries (with their debug info) until the report is made
mkdir -p "$TMP/bin"
cp "$B/bin/moq-relayd" "$B/bin/moq-pub" "$B/bin/moq-sub" "$B/tc-progs/relay.bpf.o" "$TMP/bin/"
RELAYD=$TMP/bin/moq-relayd OBJ=$TMP/bin/relay.bpf.o

"$TB" up --subscribers $HOSTS --prefix "$P" >/dev/null
# shellcheck disable=SC1090
. "/run/moq-testbed/$P.env"
in_ns() { local ns=$1; shift; exec nsenter --net="/run/netns/$ns" -- "$@"; }
sub_ns() { local v=SUB_NS_$1; echo "${!v}"; }
sub_gw() { local v=RELAY_IP4_SUB_$1; echo "${!v}"; }
waitlog() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; cat "$1" >&2; die "no '$2' in $1"; }
stopwait() { kill "$1" 2>/dev/null || true; timeout 8 tail --pid="$1" -f /dev/null || kill -9 "$1" 2>/dev/null || true; }

# the fast path, attached once (private pin root); `off` runs leave it
# attached (no agent heartbeat: the programs pass everything through)
rtc() { TC_BPF_MNT=$MNT nsenter --net="/run/netns/$RELAY_NS" tc "$@"; }
mkdir -p "$MNT"
rtc qdisc add dev "$RELAY_IF_PUB" clsact
rtc filter add dev "$RELAY_IF_PUB" ingress bpf da obj "$OBJ" sec tc/upstream_ingress
SUBIFS=()
for h in $(seq 1 $HOSTS); do
	v=RELAY_IF_SUB_$h
	SUBIFS+=("${!v}")
	rtc qdisc add dev "${!v}" clsact
	rtc filter add dev "${!v}" egress bpf da obj "$OBJ" sec tc/subscriber_egress
	rtc filter add dev "${!v}" ingress bpf da obj "$OBJ" sec tc/subscriber_ingress
done
# program ids by role (every `tc filter add ... obj` loads its own copy)
prog_ids() { rtc filter show dev "$1" "$2" | grep -o ' id [0-9]*' | awk '{ print $2 }'; }
ID_UP=$(prog_ids "$RELAY_IF_PUB" ingress)
ID_EG="" ID_SI=""
for i in "${SUBIFS[@]}"; do
	ID_EG+=" $(prog_ids "$i" egress)"
	ID_SI+=" $(prog_ids "$i" ingress)"
done
[ -n "$ID_UP" ] && [ -n "${ID_EG// /}" ] || die "cannot find the attached programs' ids"
STATS0=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1
# "runs ns" summed over the given program ids
bpf_runs() {
	local id c=0 t=0 j
	for id in "$@"; do
		j=$(bpftool prog show id "$id" -j)
		c=$((c + $(jq '.run_cnt // 0' <<<"$j")))
		t=$((t + $(jq '.run_time_ns // 0' <<<"$j")))
	done
	echo "$c $t"
}
# "packets the publisher sent in, packets subscribers sent in (ACKs...),
# packets out to subscribers (clones + the relay's sockets)" on the relay's
# veths
link_counts() {
	nsenter --net="/run/netns/$RELAY_NS" ip -s -j link show |
		jq -r --arg pub "$RELAY_IF_PUB" '[.[] | select(.ifname == $pub) | .stats64.rx.packets] as $p |
			[.[] | select(.ifname != $pub and .ifname != "lo") | .stats64] as $s |
			"\($p | add) \([$s[].rx.packets] | add) \([$s[].tx.packets] | add)"'
}
proc_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

PUBARGS=(--plaintext --rate "$RATE" --object-size "$SIZE" --objects-per-group 10)
relay_args() { # mode
	echo --plaintext --listen 0.0.0.0:4443 --log-level info --stats-interval 1 --ctl-socket none
	[ "$1" = on ] && echo --fast-path on --bpf-pin-dir "$PIN"
	true
}

start_subs() { # N TAG -> SUBPIDS
	local n=$1 tag=$2 k h
	SUBPIDS=()
	for k in $(seq 1 "$n"); do
		h=$(((k - 1) % HOSTS + 1))
		in_ns "$(sub_ns "$h")" "$TMP/bin/moq-sub" --plaintext --duration "$SECS" --json --quiet \
			"$(sub_gw "$h"):4443" >"$TMP/$tag-$k.json" 2>"$TMP/$tag-$k.log" &
		SUBPIDS+=($!)
	done
	PIDS+=("${SUBPIDS[@]}")
}
wait_subs() { local k; for k in "${SUBPIDS[@]}"; do timeout $((SECS + 30)) tail --pid="$k" -f /dev/null || true; done; }
sum_objects() { # TAG N
	jq -s '[.[].objects_received] | add' $(for k in $(seq 1 "$2"); do echo "$TMP/$1-$k.json"; done)
}
sum_missing() { # TAG N
	jq -s '([.[].objects_missing] | add) + ([.[].integrity_errors] | add)' $(for k in $(seq 1 "$2"); do echo "$TMP/$1-$k.json"; done)
}
# a field of the relay's last `fastpath ...` stats line
fp_field() { grep -o "fastpath .*" "$1" | tail -1 | grep -o " $2=[0-9.]*" | cut -d= -f2 || true; }
f2() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
f1() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? a / b : 0 }'; }

FOCUS=' (fp_[a-z_]+|relayd_[a-z_]+|raw_pump[.a-z0-9]*|fs_[a-z_]+|fc_[a-z_]+|ngtcp2_conn_(read_pkt|write)[a-z_]*|ring_buffer__[a-z]+|bpf_map_[a-z_]+|ringbuf_process_ring|on_ring_event|conn_(recv|flush)[.a-z0-9]*|moq_session_[a-z_]+|relay_[a-z_]+|__libc_(sendto|recvfrom|sendmsg|recvmsg)|epoll_pwait2?|__sys_bpf)$'
perf_tables() { # DATA TAG
	local d=$1 tag=$2
	# self time by symbol and by DSO; inclusive (children) by symbol
	perf report -i "$d" --no-children --sort sym --stdio -g none --percent-limit 0.3 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -25 >"$TMP/top-$tag.txt" || true
	perf report -i "$d" --no-children --sort dso --stdio -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -8 >"$TMP/dso-$tag.txt" || true
	perf report -i "$d" --children --sort sym --stdio -g none --percent-limit 0.3 2>/dev/null |
		grep -v '^#' | grep -v '^$' >"$TMP/children-all-$tag.txt" || true
	awk '$1 + 0 >= 2' "$TMP/children-all-$tag.txt" | head -40 >"$TMP/children-$tag.txt"
	# the relay's own entry points and the library calls they make
	grep -E "$FOCUS" "$TMP/children-all-$tag.txt" | head -30 >"$TMP/focus-$tag.txt" || true
}

# the relay's pid below a wrapper (perf record -> perf stat -> moq-relayd)
find_relay() { # PID
	local p=$1 c
	for _ in 1 2 3 4 5; do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = moq-relayd ] && { echo "$p"; return 0; }
		c=$(pgrep -P "$p" | head -1) || true
		[ -n "$c" ] || return 1
		p=$c
	done
	return 1
}
# perf control fifo: send a command, wait for its ack
perfctl() { # NAME CMD
	echo "$2" >"$TMP/$1.ctl"
	timeout 10 head -n1 "$TMP/$1.ack" >/dev/null || die "perf did not answer '$2' on $1"
}
# context switches (voluntary + involuntary), minor faults, migrations of a pid
proc_misc() {
	echo "$(awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }' "/proc/$1/status")" \
		"$(awk '{ print $10 }' "/proc/$1/stat")" \
		"$(awk '/^se.nr_migrations/ { print $3 }' "/proc/$1/sched" 2>/dev/null || echo 0)"
}

run_mode() { # MODE N -> R_* and files under $TMP
	local mode=$1 n=$2 tag=$1$2 rp wp pp t0 t1 u0 u1 b0 b1 e0 e1 i0 i1 m0 m1 m2
	rm -f "$TMP"/rec.* "$TMP"/st.*
	mkfifo "$TMP/rec.ctl" "$TMP/rec.ack" "$TMP/st.ctl" "$TMP/st.ack"
	# perf cannot attach to a running pid on this VM (-p counts nothing),
	# so the relay runs under perf record and perf stat, both disabled
	# (-D -1) until the window opens
	# shellcheck disable=SC2046
	in_ns "$RELAY_NS" perf record -q -F 999 --call-graph dwarf,16384 -D -1 \
		--control "fifo:$TMP/rec.ctl,$TMP/rec.ack" -o "$TMP/perf-$tag.data" -- \
		perf stat -e task-clock,context-switches,cpu-migrations,page-faults -x, -o "$TMP/pstat-$tag.txt" \
		-D -1 --control "fifo:$TMP/st.ctl,$TMP/st.ack" -- \
		"$RELAYD" $(relay_args "$mode") 2>"$TMP/relay-$tag.log" &
	wp=$!; PIDS+=($wp)
	waitlog "$TMP/relay-$tag.log" "listening on"
	rp=$(find_relay $wp) || die "no moq-relayd under pid $wp"
	PIDS+=($rp)
	in_ns "$PUB_NS" "$TMP/bin/moq-pub" "${PUBARGS[@]}" "$RELAY_IP4:4443" 2>"$TMP/pub-$tag.log" &
	pp=$!; PIDS+=($pp)
	waitlog "$TMP/relay-$tag.log" "publishes namespace"
	start_subs "$n" "$tag"
	sleep "$WARM"
	perfctl rec enable
	perfctl st enable
	read -r t0 t1 <<<"$(proc_ticks $rp)"
	read -r m0 m1 m2 <<<"$(proc_misc $rp)"
	read -r b0 b1 <<<"$(bpf_runs $ID_UP)"
	read -r e0 e1 <<<"$(bpf_runs $ID_EG)"
	read -r i0 i1 <<<"$(bpf_runs $ID_SI)"
	read -r u0 u1 u2 <<<"$(link_counts)"
	sleep "$WIN"
	local T0=$t0 T1=$t1 B0=$b0 B1=$b1 E0=$e0 E1=$e1 I0=$i0 I1=$i1 U0=$u0 U1=$u1 U2=$u2 M0=$m0 M1=$m1 M2=$m2
	read -r t0 t1 <<<"$(proc_ticks $rp)"
	read -r m0 m1 m2 <<<"$(proc_misc $rp)"
	read -r b0 b1 <<<"$(bpf_runs $ID_UP)"
	read -r e0 e1 <<<"$(bpf_runs $ID_EG)"
	read -r i0 i1 <<<"$(bpf_runs $ID_SI)"
	read -r u0 u1 u2 <<<"$(link_counts)"
	perfctl st disable
	perfctl rec disable
	wait_subs
	sleep 1.1 # one more stats line
	stopwait $pp
	stopwait $rp
	timeout 60 tail --pid=$wp -f /dev/null || kill $wp 2>/dev/null || true
	R_CSWP=$(f2 $((m0 - M0)) "$(awk -v r="$RATE" -v w="$WIN" -v n="$n" 'BEGIN { print r * w * n }')")
	R_PFP=$((m1 - M1)) R_MIGP=$((m2 - M2))
	R_OBJ=$(sum_objects "$tag" "$n")
	R_BAD=$(sum_missing "$tag" "$n")
	# the window's objects: the publisher's rate times the window, to every subscriber
	local wobj
	wobj=$(awk -v r="$RATE" -v w="$WIN" -v n="$n" 'BEGIN { print r * w * n }')
	R_WOBJ=$wobj
	R_UT=$(awk -v a=$((t0 - T0)) -v hz="$HZ" -v o="$wobj" 'BEGIN { printf "%.2f", a / hz * 1e6 / o }')
	R_ST=$(awk -v a=$((t1 - T1)) -v hz="$HZ" -v o="$wobj" 'BEGIN { printf "%.2f", a / hz * 1e6 / o }')
	R_CPUPCT=$(awk -v a=$((t0 - T0 + t1 - T1)) -v hz="$HZ" -v w="$WIN" 'BEGIN { printf "%.1f", a / hz / w * 100 }')
	R_TASK=$(awk -F, '$3 == "task-clock" { printf "%.1f", $1 }' "$TMP/pstat-$tag.txt")
	R_CSW=$(awk -F, '$3 == "context-switches" { print $1 }' "$TMP/pstat-$tag.txt")
	R_MIG=$(awk -F, '$3 == "cpu-migrations" { print $1 }' "$TMP/pstat-$tag.txt")
	R_PF=$(awk -F, '$3 == "page-faults" { print $1 }' "$TMP/pstat-$tag.txt")
	R_TASKOBJ=$(awk -v a="$R_TASK" -v o="$wobj" 'BEGIN { printf "%.2f", a * 1000 / o }')
	R_CSWOBJ=$(f2 "$R_CSW" "$wobj")
	R_UPRUNS=$((b0 - B0)) R_UPNS=$(f1 $((b1 - B1)) $((b0 - B0)))
	R_EGRUNS=$((e0 - E0)) R_EGNS=$(f1 $((e1 - E1)) $((e0 - E0)))
	R_SIRUNS=$((i0 - I0)) R_SINS=$(f1 $((i1 - I1)) $((i0 - I0)))
	# BPF ns per delivered object (egress is nested in upstream_ingress's
	# clone_redirect, so the ingress time already contains it)
	R_BPFOBJ=$(f2 $((b1 - B1 + i1 - I1)) "$wobj")
	R_PUBS=$(f1 $((u0 - U0)) "$WIN") R_SUBINS=$(f1 $((u1 - U1)) "$WIN") R_SUBOUTS=$(f1 $((u2 - U2)) "$WIN")
	R_SUBIN=$(f2 $((u1 - U1)) "$wobj") R_SUBOUT=$(f2 $((u2 - U2)) "$wobj")
	R_EV=$(fp_field "$TMP/relay-$tag.log" events)
	R_KP=$(fp_field "$TMP/relay-$tag.log" kernel_pkts)
	R_AP=$(fp_field "$TMP/relay-$tag.log" agent_pkts)
	R_SHARE=$(fp_field "$TMP/relay-$tag.log" kernel_share)
	if [ -n "$R_EV" ]; then
		R_EVPKT=$(f2 "$R_EV" "$R_KP")
		R_EVOBJ=$(f2 "$R_EV" "$R_OBJ")
		R_EVUP=$(f2 "$R_EV" "$(awk -v o="$R_OBJ" -v n="$n" 'BEGIN { print o / n }')")
	else
		R_EVPKT=- R_EVOBJ=- R_EVUP=-
	fi
	perf_tables "$TMP/perf-$tag.data" "$tag"

	# syscalls: a second run under strace
	# shellcheck disable=SC2046
	in_ns "$RELAY_NS" strace -c -f -o "$TMP/strace-$tag.txt" "$RELAYD" $(relay_args "$mode") \
		2>"$TMP/relay-s$tag.log" &
	rp=$!; PIDS+=($rp)
	waitlog "$TMP/relay-s$tag.log" "listening on"
	in_ns "$PUB_NS" "$TMP/bin/moq-pub" "${PUBARGS[@]}" "$RELAY_IP4:4443" 2>"$TMP/pub-s$tag.log" &
	pp=$!; PIDS+=($pp)
	waitlog "$TMP/relay-s$tag.log" "publishes namespace"
	start_subs "$n" "s$tag"
	wait_subs
	stopwait $pp
	kill $(pgrep -P $rp) 2>/dev/null || true
	timeout 10 tail --pid=$rp -f /dev/null || kill -9 $rp 2>/dev/null || true
	local sobj calls
	sobj=$(sum_objects "s$tag" "$n")
	calls=$(awk '$NF == "total" { print $4 }' "$TMP/strace-$tag.txt" 2>/dev/null || true)
	R_SC=$(f2 "${calls:-0}" "${sobj:-0}")
	# top 5 syscalls: "name calls/object"
	R_SCTOP=$(awk -v o="${sobj:-0}" '$1 ~ /^[0-9.]+$/ && $NF != "total" && NF >= 5 { printf "%s %.2f\n", $NF, o ? $4 / o : 0 }' \
		"$TMP/strace-$tag.txt" | sort -k2,2 -g -r | head -5 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')
}

FINDINGS=$([ -f "$OUT" ] && sed -n '/^## Findings/,$p' "$OUT" || true)
ROWS=() BROWS=() SROWS=() TAGS=()
for n in $COUNTS; do
	echo "== $n subscriber(s)"
	for mode in $MODES; do
		run_mode "$mode" "$n"
		TAGS+=("$mode$n")
		echo "   $mode: relay CPU $R_CPUPCT% = user $R_UT + sys $R_ST us/obj (perf task-clock $R_TASKOBJ us/obj) |" \
			"ctx switches $R_CSWOBJ/obj (proc $R_CSWP) | syscalls $R_SC/obj [$R_SCTOP] | pkts from pub $R_PUBS/s, from subs $R_SUBIN/obj, to subs $R_SUBOUT/obj |" \
			"events $R_EVPKT/pkt $R_EVUP/upstream obj | bpf up ${R_UPNS}ns x$R_UPRUNS eg ${R_EGNS}ns x$R_EGRUNS | delivered $R_OBJ bad $R_BAD"
		ROWS+=("| $n | $mode | $R_CPUPCT | $R_UT | $R_ST | $R_TASKOBJ | $R_CSWOBJ | $R_MIG / $R_PF | $R_SC | $R_PUBS | $R_SUBIN ($R_SUBINS/s) | $R_SUBOUT ($R_SUBOUTS/s) | $R_OBJ / $R_BAD |")
		BROWS+=("| $n | $mode | $R_UPRUNS | $R_UPNS | $R_EGRUNS | $R_EGNS | $R_SIRUNS | $R_SINS | $R_BPFOBJ | $R_EVPKT | $R_EVOBJ | $R_EVUP | ${R_KP:--} / ${R_AP:--} (${R_SHARE:--}%) |")
		SROWS+=("| $n | $mode | $R_SC | $R_SCTOP |")
	done
done

{
	echo "# moq-relayd profile: fast path on vs off"
	echo
	echo "Generated by \`bench/profile.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC ($(uname -r), $(nproc) vCPUs,"
	echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)); $BUILDINFO."
	echo "Command: \`B=build bench/profile.sh\` (BENCH_SECONDS=$SECS BENCH_RATE=$RATE BENCH_SIZE=$SIZE BENCH_COUNTS=\"$COUNTS\")."
	echo "Synthetic track, $SIZE-byte objects at $RATE objects/s, 10 objects per group, plaintext profile,"
	echo "netns testbed with $HOSTS subscriber hosts. Each subscriber runs ${SECS} s; measurements cover a ${WIN} s"
	echo "window starting ${WARM} s after the subscribers start. \"Per object\" = per delivered object"
	echo "(objects the publisher sent in the window x subscribers), as in fastpath-onoff.md."
	echo
	echo "## Relay process"
	echo
	echo "CPU: utime/stime deltas of moq-relayd (/proc/PID/stat, ${HZ} Hz ticks) and \`perf stat\` task-clock."
	echo "Packets: rx/tx counters of the relay's veths (from subscribers: ACKs and control; to subscribers:"
	echo "tc clones plus the relay's own packets). Syscalls: separate run under \`strace -c -f\`."
	echo
	echo "| subs | fast path | relay CPU % of a core | user µs/obj | sys µs/obj | task-clock µs/obj | ctx switches/obj | migrations / page faults | syscalls/obj | packets from publisher /s | packets from subscribers /obj (/s) | packets to subscribers /obj (/s) | delivered (whole run) / missing+integrity |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	for r in "${ROWS[@]}"; do echo "$r"; done
	echo
	echo "## tc programs and ring-buffer events"
	echo
	echo "kernel.bpf_stats_enabled=1, \`bpftool prog show\` run_cnt/run_time_ns deltas over the window,"
	echo "summed over the program's copies (one per interface). subscriber_egress runs inside"
	echo "upstream_ingress's \`bpf_clone_redirect\`, so upstream_ingress ns/run includes the egress runs for"
	echo "its clones; BPF ns/obj = (upstream_ingress + subscriber_ingress time) / delivered objects. Egress"
	echo "also runs for every packet the relay's sockets send to subscribers. Events: the agent's"
	echo "\`events=\` counter (whole run) per kernel-forwarded packet, per delivered object and per"
	echo "upstream object."
	echo
	echo "| subs | fast path | upstream_ingress runs | ns/run | subscriber_egress runs | ns/run | subscriber_ingress runs | ns/run | BPF ns/obj | events/fwd pkt | events/obj | events/upstream obj | kernel / agent pkts (share) |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for r in "${BROWS[@]}"; do echo "$r"; done
	echo
	echo "## Syscalls per delivered object (top 5)"
	echo
	echo "| subs | fast path | all syscalls/obj | top 5 (calls/obj) |"
	echo "|---|---|---|---|"
	for r in "${SROWS[@]}"; do echo "$r"; done
	echo
	echo "## perf: top symbols"
	echo
	echo "\`perf record -F 999 --call-graph dwarf -p <moq-relayd>\` over the window (no hardware PMU in"
	echo "the VM: cpu-clock sampling). Self: \`perf report --no-children --sort sym\` (top 25, >= 0.3%);"
	echo "by DSO: \`--sort dso\`; inclusive: \`perf report --children --sort sym\` (>= 2%, top 40)."
	echo "Kernel self time is skewed: with cpu-clock sampling in this PVM guest, a sample taken while"
	echo "interrupts are off lands on the next \`pvm_irq_enable\`, so that symbol stands for \"kernel code"
	echo "that ran with interrupts off\" (softirq, spinlocks); use the inclusive tables for the kernel."
	for t in "${TAGS[@]}"; do
		echo
		echo "### ${t%%[0-9]*} mode, ${t##*[a-z]} subscribers"
		echo
		echo "Self, by DSO:"
		echo '```'
		cat "$TMP/dso-$t.txt"
		echo '```'
		echo "Self, top symbols:"
		echo '```'
		cat "$TMP/top-$t.txt"
		echo '```'
		echo "Inclusive (children), top symbols (>= 2%):"
		echo '```'
		cat "$TMP/children-$t.txt"
		echo '```'
		echo "Inclusive, the relay's own functions and the calls into libraries and the kernel they make:"
		echo '```'
		cat "$TMP/focus-$t.txt"
		echo '```'
	done
	# the hand-written analysis of an earlier run is kept (it is not
	# regenerated: re-check it against the tables above)
	if [ -n "$FINDINGS" ]; then
		echo
		printf '%s\n' "$FINDINGS"
	fi
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
