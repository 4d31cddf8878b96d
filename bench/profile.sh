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
#   packets  run counts of the programs: from the publisher, from
#            subscribers (ACKs), to subscribers (clones + the relay's own);
#   events   ring-buffer events the agent handled (its `fastpath ...
#            events=` stats line) per forwarded packet and per object;
# and a second run under `strace -c -f`: the syscalls that remain per object.
# Writes docs/results/profile.md (PROFILE_OUT).
# Environment: B, BENCH_SECONDS (window, 6), BENCH_RATE objects/s (300),
# BENCH_SIZE (1000), BENCH_COUNTS ("1 8 32"), BENCH_MODES ("off on"),
# BENCH_QUICK=1 or --quick (3 s window, 8 subscribers), BENCH_KEEP=1 (keep
# perf data and logs). About 6 minutes with the defaults.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --quick ] && BENCH_QUICK=1
SECS=${BENCH_SECONDS:-6} # the measuring window
RATE=${BENCH_RATE:-300}
SIZE=${BENCH_SIZE:-1000}
COUNTS=${BENCH_COUNTS:-1 8 32}
MODES=${BENCH_MODES:-off on}
SYSPROF=${PROFILE_SYSTEM:-1} # system-wide kernel profile of the fast path (on mode)
if [ "${BENCH_QUICK:-0}" = 1 ]; then SECS=3 COUNTS=${BENCH_COUNTS:-8}; fi
WIN=$SECS
HOSTS=8
P=pf$$
P=${P:0:12}
OUT=${PROFILE_OUT:-$ROOT/docs/results/profile.md}
TMP=$(mktemp -d /tmp/profile-bench.XXXXXX)
MNT=/sys/fs/bpf/moq-bench-$P
PIN=$MNT/tc/globals
STATS0=""
BUILDINFO=$(bench_buildinfo --no-bpf)

BENCH_NEED_HINT="Debian: apt-get install jq strace linux-perf bpftool"
bench_need bin/moq-relayd bin/moq-pub bin/moq-sub tc-progs/relay.bpf.o -- jq strace perf bpftool
WAITLOG_TRIES=100

bench_cleanup_extra() {
	[ -n "$STATS0" ] && sysctl -q -w kernel.bpf_stats_enabled="$STATS0" >/dev/null 2>&1 || true
}
bench_traps

# private copies: other engineers rebuild build/ while this runs, and perf
# needs the exact binaries (with their debug info) until the report is made
mkdir -p "$TMP/bin"
cp "$B/bin/moq-relayd" "$B/bin/moq-pub" "$B/bin/moq-sub" "$B/tc-progs/relay.bpf.o" "$TMP/bin/"
RELAYD=$TMP/bin/moq-relayd OBJ=$TMP/bin/relay.bpf.o

bench_testbed_up $HOSTS

# the fast path, attached once (private pin root); `off` runs leave it
# attached (no agent heartbeat: the programs pass everything through)
bench_fast_attach "$OBJ" $HOSTS
SUBIFS=()
for h in $(seq 1 $HOSTS); do
	v=RELAY_IF_SUB_$h
	SUBIFS+=("${!v}")
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
echo "programs: upstream_ingress $ID_UP; subscriber_egress$ID_EG; subscriber_ingress$ID_SI"
STATS0=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1
# one snapshot of the three program groups: "upN upNs egN egNs siN siNs"
# (one bpftool call, so every counter is read at about the same time)
bpf_snap() {
	bpftool prog show -j | jq -r --arg up "$ID_UP" --arg eg "$ID_EG" --arg si "$ID_SI" '
		def ids(s): [s | splits("[^0-9]+") | select(. != "") | tonumber];
		def sum(s): [.[] | select(.id as $i | ids(s) | index($i))] |
			"\(map(.run_cnt // 0) | add // 0) \(map(.run_time_ns // 0) | add // 0)";
		"\(sum($up)) \(sum($eg)) \(sum($si))"'
}
mono() { awk '{ print $1 }' /proc/uptime; }

PUBARGS=(--plaintext --rate "$RATE" --object-size "$SIZE" --objects-per-group 10)

start_subs() { # N TAG -> SUBPIDS
	local n=$1 tag=$2 k h
	SUBPIDS=()
	# long enough for all of them to connect (several seconds at 32 on a
	# loaded 2-vCPU host), then the window, then a margin
	SUBSECS=$((SECS + 8 + n / 4))
	for k in $(seq 1 "$n"); do
		h=$(((k - 1) % HOSTS + 1))
		in_ns "$(sub_ns "$h")" "$TMP/bin/moq-sub" --plaintext --duration "$SUBSECS" --json --quiet \
			"$(sub_gw "$h"):4443" >"$TMP/$tag-$k.json" 2>"$TMP/$tag-$k.log" &
		SUBPIDS+=($!)
	done
	PIDS+=("${SUBPIDS[@]}")
}
wait_subs() { local k; for k in "${SUBPIDS[@]}"; do timeout $((SUBSECS + 30)) tail --pid="$k" -f /dev/null || true; done; }
sum_objects() { # TAG N
	jq -s '[.[].objects_received] | add' $(for k in $(seq 1 "$2"); do echo "$TMP/$1-$k.json"; done)
}
sum_missing() { # TAG N
	jq -s '([.[].objects_missing] | add) + ([.[].integrity_errors] | add)' $(for k in $(seq 1 "$2"); do echo "$TMP/$1-$k.json"; done)
}
# a field of the relay's last `fastpath ...` stats line
# "events kernel_pkts agent_pkts" of the relay's Nth `fastpath subs=` stats line
fp_fields() {
	grep 'fastpath subs=' "$1" | sed -n "${2}p" |
		awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } print v["events"], v["kernel_pkts"], v["agent_pkts"] }'
}
f2() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
f1() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? a / b : 0 }'; }

FOCUS=' (fp_[a-z_]+|relayd_[a-z_]+|raw_pump[.a-z0-9]*|fs_[a-z_]+|fc_[a-z_]+|ngtcp2_conn_(read_pkt|write)[a-z_]*|ring_buffer__[a-z]+|bpf_map_[a-z_]+|ringbuf_process_ring|on_ring_event|conn_(recv|flush)[.a-z0-9]*|moq_session_[a-z_]+|relay_[a-z_]+|__libc_(sendto|recvfrom|sendmsg|recvmsg)|epoll_pwait2?|__sys_bpf)$'
# the tc path's share of all CPU samples (both vCPUs) and its cost per
# forwarded clone: inclusive samples of the fast-path symbols
SYS_SYMS='bpf_prog_[0-9a-f]+_moq_[a-z_]+|cls_bpf_classify|tcf_classify|bpf_clone_redirect|skb_clone|__dev_queue_xmit|dev_queue_xmit|veth_xmit|__netif_rx|netif_rx|bpf_skb_store_bytes|bpf_skb_load_bytes|pskb_expand_head|bpf_l4_csum_replace|bpf_l3_csum_replace|bpf_csum_diff|bpf_loop|bpf_ringbuf_reserve|bpf_ringbuf_submit|bpf_ringbuf_commit|__skb_clone|kmem_cache_alloc[a-z_]*|process_backlog|net_rx_action|__netif_receive_skb_core[.a-z0-9]*|ip_rcv|udp_rcv|__udp4_lib_rcv|sock_def_readable|ip_local_deliver|ip_forward|try_to_wake_up|ktime_get|sched_clock'
sys_table() { # DATA TAG N
	local total
	total=$(perf report -i "$1" --stdio --no-children -n --sort comm -g none 2>/dev/null | awk '!/^#/ && NF >= 3 { s += $2 } END { print s }')
	perf report -i "$1" --children --sort sym --stdio -g none --percent-limit 0.2 2>/dev/null |
		grep -v '^#' | grep -E "\] ($SYS_SYMS)\$" | head -30 >"$TMP/sys-$2.txt" || true
	perf report -i "$1" --no-children --sort comm --stdio -g none 2>/dev/null | grep -v '^#' | grep . | head -8 >"$TMP/syscomm-$2.txt" || true
	echo "${total:-?}" >"$TMP/systotal-$2.txt"
}
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
	local mode=$1 n=$2 tag=$1$2 rp wp pp t0 t1 b0 b1 e0 e1 i0 i1 m0 m1 m2
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
	# the window opens once every subscriber is in (the relay's stats line)
	for _ in $(seq 150); do
		[ "$(grep -o ' stats sessions=.*' "$TMP/relay-$tag.log" | tail -1 | grep -o ' subscribers=[0-9]*' | cut -d= -f2)" = "$n" ] && break
		sleep 0.2
	done
	sleep 1
	local L0 F0 L1 F1 w0 w1 WIN=$SECS
	L0=$(grep -c ' stats sessions=' "$TMP/relay-$tag.log" || true)
	F0=$(grep -c 'fastpath subs=' "$TMP/relay-$tag.log" || true)
	perfctl rec enable
	perfctl st enable
	read -r t0 t1 <<<"$(proc_ticks $rp)"
	read -r m0 m1 m2 <<<"$(proc_misc $rp)"
	read -r b0 b1 e0 e1 i0 i1 <<<"$(bpf_snap)"
	w0=$(mono)
	# what the packets between subscriber host 1 and the relay carry
	nsenter --net="/run/netns/$(sub_ns 1)" python3 "$ROOT/bench/profile_frames.py" --ifname "$SUB_IF_1" \
		--seconds "$WIN" >"$TMP/frames-$tag.json" 2>"$TMP/frames-$tag.log" &
	sleep "$WIN"
	local T0=$t0 T1=$t1 B0=$b0 B1=$b1 E0=$e0 E1=$e1 I0=$i0 I1=$i1 M0=$m0 M1=$m1 M2=$m2
	read -r t0 t1 <<<"$(proc_ticks $rp)"
	read -r m0 m1 m2 <<<"$(proc_misc $rp)"
	read -r b0 b1 e0 e1 i0 i1 <<<"$(bpf_snap)"
	w1=$(mono)
	L1=$(grep -c ' stats sessions=' "$TMP/relay-$tag.log" || true)
	F1=$(grep -c 'fastpath subs=' "$TMP/relay-$tag.log" || true)
	perfctl st disable
	perfctl rec disable
	WIN=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.2f", b - a }')
	R_WIN=$WIN
	# fast path: where the kernel spends its time forwarding (softirq runs
	# in whichever task sent the packet, so this one is system-wide, with
	# kernel call chains), 3 s while the subscribers still receive
	if [ "$mode" = on ] && [ "$SYSPROF" = 1 ]; then
		perf record -q -a -g -F 999 -o "$TMP/sys-$tag.data" -- sleep 3 >/dev/null 2>&1 || true
		sys_table "$TMP/sys-$tag.data" "$tag" "$n"
	fi
	wait_subs
	sleep 1.1 # one more stats line
	stopwait $pp
	stopwait $rp
	timeout 60 tail --pid=$wp -f /dev/null || kill $wp 2>/dev/null || true
	R_PFP=$((m1 - M1)) R_MIGP=$((m2 - M2))
	R_OBJ=$(sum_objects "$tag" "$n")
	R_BAD=$(sum_missing "$tag" "$n")
	# the window's objects: the relay's in_objects/s over the window's stats
	# lines (one a second) x the window x subscribers; fewest subscribers seen
	local wobj
	R_INRATE=0 R_MINSUBS=0
	read -r R_INRATE R_MINSUBS <<<"$(grep ' stats sessions=' "$TMP/relay-$tag.log" | sed -n "$((L0 + 1)),${L1}p" |
		awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "in_objects/s") r += kv[2];
			if (kv[1] == "subscribers" && (m == "" || kv[2] < m)) m = kv[2] } k++ }
			END { printf "%.1f %s\n", k ? r / k : 0, m }')"
	wobj=$(awk -v r="$R_INRATE" -v w="$WIN" -v n="$n" 'BEGIN { print r * w * n }')
	R_CSWP=$(f2 $((m0 - M0)) "$wobj")
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
	# packets: runs of the programs (upstream_ingress: every packet from
	# the publisher; subscriber_ingress: from subscribers; egress: to them)
	R_PUBS=$(f1 $((b0 - B0)) "$WIN") R_SUBINS=$(f1 $((i0 - I0)) "$WIN") R_SUBOUTS=$(f1 $((e0 - E0)) "$WIN")
	R_SUBIN=$(f2 $((i0 - I0)) "$wobj") R_SUBOUT=$(f2 $((e0 - E0)) "$wobj")
	local ev0 ev1 kp0 kp1 ap0 ap1
	[ "$F0" -gt 0 ] && read -r ev0 kp0 ap0 <<<"$(fp_fields "$TMP/relay-$tag.log" "$F0")"
	[ "$F0" -gt 0 ] && read -r ev1 kp1 ap1 <<<"$(fp_fields "$TMP/relay-$tag.log" "$F1")"
	if [ "$F0" -gt 0 ]; then
		R_EV=$((ev1 - ev0)) R_KP=$((kp1 - kp0)) R_AP=$((ap1 - ap0))
		R_SHARE=$(awk -v k="$R_KP" -v a="$R_AP" 'BEGIN { printf "%.2f", k + a ? 100 * k / (k + a) : 0 }')
		R_EVPKT=$(f2 "$R_EV" "$R_KP")
		R_EVOBJ=$(f2 "$R_EV" "$wobj")
		R_EVUP=$(f2 "$R_EV" "$(awk -v o="$wobj" -v n="$n" 'BEGIN { print o / n }')")
		R_EVS=$(f1 "$R_EV" "$WIN")
	else
		R_EV="" R_KP="" R_AP="" R_SHARE="" R_EVS=-
		R_EVPKT=- R_EVOBJ=- R_EVUP=-
	fi
	perf_tables "$TMP/perf-$tag.data" "$tag"
	# frames: per object delivered to host 1's subscribers (ceil(n / HOSTS) of them)
	R_FR=$(jq -r --argjson o "$(awk -v r="$R_INRATE" -v n="$n" -v h=$HOSTS 'BEGIN { print r * int((n + h - 1) / h) }')" '
		def per(d): "\(d.packets / (.seconds * $o) * 100 | round / 100) pkts/obj (ack-eliciting \(d.ack_eliciting / (.seconds * $o) * 100 | round / 100)): " +
			(d.signatures | to_entries | sort_by(-.value) | .[0:4] | map("\(.key) \(.value)") | join(", "));
		"| \(per(.to_relay)) | \(per(.from_relay)) |"' "$TMP/frames-$tag.json" 2>/dev/null || echo "| - | - |")

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

ROWS=() BROWS=() SROWS=() FROWS=() TAGS=()
for n in $COUNTS; do
	echo "== $n subscriber(s)"
	for mode in $MODES; do
		run_mode "$mode" "$n"
		TAGS+=("$mode$n")
		echo "   $mode: relay CPU $R_CPUPCT% = user $R_UT + sys $R_ST us/obj (perf task-clock $R_TASKOBJ us/obj) |" \
			"ctx switches $R_CSWOBJ/obj (proc $R_CSWP) | syscalls $R_SC/obj [$R_SCTOP] | pkts from pub $R_PUBS/s, from subs $R_SUBIN/obj, to subs $R_SUBOUT/obj |" \
			"events $R_EVPKT/pkt $R_EVUP/upstream obj $R_EVS/s | in $R_INRATE obj/s subs>=$R_MINSUBS window ${R_WIN}s | bpf up ${R_UPNS}ns x$R_UPRUNS eg ${R_EGNS}ns x$R_EGRUNS | delivered $R_OBJ bad $R_BAD"
		ROWS+=("| $n ($R_MINSUBS) | $mode | $R_INRATE | $R_CPUPCT | $R_UT | $R_ST | $R_TASKOBJ | $R_CSWOBJ | $R_MIG / $R_PF | $R_SC | $R_PUBS | $R_SUBIN ($R_SUBINS/s) | $R_SUBOUT ($R_SUBOUTS/s) | $R_OBJ / $R_BAD |")
		BROWS+=("| $n | $mode | $R_UPRUNS | $R_UPNS | $R_EGRUNS | $R_EGNS | $R_SIRUNS | $R_SINS | $R_BPFOBJ | $R_EVPKT | $R_EVOBJ | $R_EVUP | $R_EVS | ${R_KP:--} / ${R_AP:--} (${R_SHARE:--}%) |")
		SROWS+=("| $n | $mode | $R_SC | $R_SCTOP |")
		FROWS+=("| $n | $mode $R_FR")
	done
done

FINDINGS=$([ -f "$OUT" ] && sed -n '/^## Findings/,$p' "$OUT" || true)
{
	echo "# moq-relayd profile: fast path on vs off"
	echo
	echo "Generated by \`bench/profile.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC ($(uname -r), $(nproc) vCPUs,"
	echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)); $BUILDINFO."
	echo "Command: \`B=build bench/profile.sh\` (BENCH_SECONDS=$SECS BENCH_RATE=$RATE BENCH_SIZE=$SIZE BENCH_COUNTS=\"$COUNTS\")."
	echo "Synthetic track, $SIZE-byte objects at $RATE objects/s, 10 objects per group, plaintext profile,"
	echo "netns testbed with $HOSTS subscriber hosts. Measurements cover a ${WIN} s window that opens 1 s after the"
	echo "relay's stats line shows every subscriber connected. \"Per object\" = per delivered object: the relay's"
	echo "in_objects/s over the window x ${WIN} s x subscribers, as in fastpath-onoff.md (per upstream object ="
	echo "that x subscribers)."
	echo
	echo "## Relay process"
	echo
	echo "CPU: utime/stime deltas of moq-relayd (/proc/PID/stat, ${HZ} Hz ticks) and \`perf stat\` task-clock."
	echo "Packets: run counts of the tc programs (upstream_ingress: every packet from the publisher;"
	echo "subscriber_ingress: every packet from subscribers, mostly ACKs; subscriber_egress: every packet to"
	echo "subscribers, clones plus the relay's own). Syscalls: a separate run under \`strace -c -f\`, counts over"
	echo "the relay's whole life / objects delivered in that run."
	echo
	echo "| subs (fewest in window) | fast path | upstream objects/s | relay CPU % of a core | user µs/obj | sys µs/obj | task-clock µs/obj | ctx switches/obj | migrations / page faults | syscalls/obj | packets from publisher /s | packets from subscribers /obj (/s) | packets to subscribers /obj (/s) | delivered (whole run) / missing+integrity |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for r in "${ROWS[@]}"; do echo "$r"; done
	echo
	echo "## tc programs and ring-buffer events"
	echo
	echo "kernel.bpf_stats_enabled=1, \`bpftool prog show\` run_cnt/run_time_ns deltas over the window,"
	echo "summed over the program's copies (one per interface). subscriber_egress runs inside"
	echo "upstream_ingress's \`bpf_clone_redirect\`, so upstream_ingress ns/run includes the egress runs for"
	echo "its clones; BPF ns/obj = (upstream_ingress + subscriber_ingress time) / delivered objects. Egress"
	echo "also runs for every packet the relay's sockets send to subscribers. Events: the agent's"
	echo "\`events=\` counter (delta over the window) per kernel-forwarded packet, per delivered object and per"
	echo "upstream object; kernel / agent packets: deltas of kernel_pkts and agent_pkts over the window."
	echo
	echo "| subs | fast path | upstream_ingress runs | ns/run | subscriber_egress runs | ns/run | subscriber_ingress runs | ns/run | BPF ns/obj | events/fwd pkt | events/obj | events/upstream obj | events/s | kernel / agent pkts (share) |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for r in "${BROWS[@]}"; do echo "$r"; done
	echo
	echo "## Syscalls per delivered object (top 5)"
	echo
	echo "| subs | fast path | all syscalls/obj | top 5 (calls/obj) |"
	echo "|---|---|---|---|"
	for r in "${SROWS[@]}"; do echo "$r"; done
	echo
	echo "## What subscriber host 1's packets carry"
	echo
	echo "\`bench/profile_frames.py\` (AF_PACKET capture in subscriber host 1's namespace over the window;"
	echo "plaintext profile, so frames are readable): packets per object delivered to that host's"
	echo "subscribers, ack-eliciting ones, and the most frequent frame signatures with their packet counts"
	echo "over the window (to the relay: what the subscriber sends; from the relay: clones, the agent's"
	echo "packets and ngtcp2's)."
	echo
	echo "| subs | fast path | subscriber -> relay | relay -> subscriber |"
	echo "|---|---|---|---|"
	for r in "${FROWS[@]}"; do echo "$r"; done
	echo
	if [ "$SYSPROF" = 1 ]; then
		echo "## Fast path in the kernel (system-wide)"
		echo
		echo "On mode only: \`perf record -a -g -F 999\` for 3 s right after the window (subscribers still"
		echo "receiving), \`perf report --children --sort sym\` filtered to the tc path's symbols. Percentages are"
		echo "of all samples on both vCPUs (including other engineers' processes: see the comm table); 1% of"
		echo "3 s x 2 vCPUs = 60 ms, i.e. at 300 upstream packets/s over 3 s, 1% = 67 µs per upstream packet."
		for t in "${TAGS[@]}"; do
			[ -f "$TMP/sys-$t.txt" ] || continue
			echo
			echo "### ${t##*[a-z]} subscribers ($(cat "$TMP/systotal-$t.txt") samples)"
			echo
			echo '```'
			cat "$TMP/syscomm-$t.txt"
			echo '```'
			echo '```'
			cat "$TMP/sys-$t.txt"
			echo '```'
		done
		echo
	fi
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
