#!/usr/bin/env bash
# tests/soak/soak.sh - soak test of moq-relayd with the fast path on (not part
# of make check): for --duration seconds (default an hour) 64 subscribers join,
# stay 5..60 s, leave and join again, over links with 1% random loss in both
# directions; every --interval seconds one CSV row of the relay's RSS, fds,
# pinned-map occupancy, fast-path counters, sessions, joins and errors. At the
# end a markdown report (--out, default docs/results/soak.md) with a plot next
# to it (same name, .png). docs/soak.md explains how to read it.
#
#   tests/soak/soak.sh [--duration S] [--interval S] [--subscribers N]
#       [--hosts H] [--rate N] [--object-size B] [--objects-per-group N]
#       [--loss PCT] [--min-stay S] [--max-stay S] [--no-datagram]
#       [--rss-bound KB] [--stream-missing-bound PCT] [--out FILE.md]
#       [--logs DIR]
#
# Exit status: 0 memory flat and no errors; 1 a bound failed (the report says
# which); 2 bad usage. Needs root (namespaces, tc, BPF) and a build (make).
# Everything it creates (testbed t-prefix soak<pid>, pins, processes, temp
# files) is removed by its exit trap; --logs DIR keeps a copy of the logs.

DURATION=3600
INTERVAL=30
NSUBS=64
HOSTS=8
RATE=10
OBJSIZE=1000
OPG=10
LOSS=1
MIN_STAY=5
MAX_STAY=60
DATAGRAM=1
RSS_BOUND=2048
MISS_BOUND=0.1
OUT=docs/results/soak.md
LOGS=
CMDLINE="$0 $*"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
bad() {
	echo "soak.sh: $*" >&2
	exit 2
}
num() { [[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] || bad "$1 needs a number (got '$2')"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) num "$1" "${2:-}"; DURATION=$2; shift ;;
	--interval) num "$1" "${2:-}"; INTERVAL=$2; shift ;;
	--subscribers) num "$1" "${2:-}"; NSUBS=$2; shift ;;
	--hosts) num "$1" "${2:-}"; HOSTS=$2; shift ;;
	--rate) num "$1" "${2:-}"; RATE=$2; shift ;;
	--object-size) num "$1" "${2:-}"; OBJSIZE=$2; shift ;;
	--objects-per-group) num "$1" "${2:-}"; OPG=$2; shift ;;
	--loss) num "$1" "${2:-}"; LOSS=$2; shift ;;
	--min-stay) num "$1" "${2:-}"; MIN_STAY=$2; shift ;;
	--max-stay) num "$1" "${2:-}"; MAX_STAY=$2; shift ;;
	--no-datagram) DATAGRAM=0 ;;
	--rss-bound) num "$1" "${2:-}"; RSS_BOUND=$2; shift ;;
	--stream-missing-bound) num "$1" "${2:-}"; MISS_BOUND=$2; shift ;;
	--out) OUT=${2:-}; [ -n "$OUT" ] || bad "--out needs a file"; shift ;;
	--logs) LOGS=${2:-}; [ -n "$LOGS" ] || bad "--logs needs a directory"; shift ;;
	-h | --help) usage; exit 0 ;;
	*) bad "unknown option '$1' (see --help)" ;;
	esac
	shift
done
[ "$HOSTS" -ge 1 ] && [ "$NSUBS" -ge "$HOSTS" ] || bad "--subscribers must be >= --hosts >= 1"
[ "$MAX_STAY" -ge "$MIN_STAY" ] && [ "$MIN_STAY" -ge 1 ] || bad "need 1 <= --min-stay <= --max-stay"
[ "$INTERVAL" -ge 1 ] && [ "$DURATION" -ge $((2 * INTERVAL)) ] || bad "need --duration >= 2 x --interval >= 2"

cd "$(dirname "$0")/../.." || exit 2
TB_PREFIX=soak$$
. tests/integration/lib.sh
. tests/integration/relay/common.sh
set +e # lib.sh sets -e; this script checks what matters explicitly
relay_tools_check
command -v gnuplot >/dev/null || die "gnuplot missing (apt-get install gnuplot-nox)"
command -v bpftool >/dev/null || die "bpftool missing"
RELAYCTL=$ROOT/$B/bin/moq-relayctl
[ -x "$RELAYCTL" ] || die "build $RELAYCTL first (make)"
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
PNG=${OUT%.md}.png
CSV=$TMP/soak.csv
mkdir -p "$(dirname "$OUT")"

# keep the logs (copied before common.sh's trap removes $TMP: at_exit runs
# last-registered first, so this is registered after testbed_up below)
keep_logs() {
	[ -n "$LOGS" ] || return 0
	mkdir -p "$LOGS" && cp -a "$TMP"/. "$LOGS"/ && echo "logs kept in $LOGS"
}

# what ran: recorded now (other engineers may commit or rebuild meanwhile)
BUILD_FACT="git HEAD $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown) at the start$(
	n=$(git status --porcelain -- agent moq tc-progs 2>/dev/null | wc -l)
	[ "$n" = 0 ] || echo " (+ $n uncommitted changes under agent/ moq/ tc-progs/)"
); moq-relayd built $(date -u -r "$B/bin/moq-relayd" +'%F %T' 2>/dev/null) UTC, relay.bpf.o $(date -u -r "$B/tc-progs/relay.bpf.o" +'%T' 2>/dev/null) UTC"
log "soak: ${DURATION}s, $NSUBS subscribers on $HOSTS hosts, stay ${MIN_STAY}..${MAX_STAY}s, loss ${LOSS}% both ways, sample every ${INTERVAL}s"
testbed_up "$HOSTS"
. tests/integration/relay/fastpath.sh
at_exit keep_logs
fp_attach
# (retried: on a loaded VM testbed.sh loss once failed with "program N has
# no moq_loss_cfg map" and succeeded when run again)
for h in $(seq 1 "$HOSTS"); do
	for dir in in out; do
		for try in 1 2 3 4; do
			tb loss "sub$h" "$LOSS" $([ $dir = out ] && echo --from) >/dev/null && break
			[ $try -lt 4 ] || die "testbed.sh loss sub$h $LOSS ($dir) failed 4 times"
			sleep 1
		done
		[ -e "/sys/fs/bpf/moq-testbed/$TB_PREFIX/loss-sub$h-$dir" ] || die "no loss pin for sub$h ($dir)"
	done
done

# ---------------------------------------------------------------- processes
CTL=$TMP/ctl.sock
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
fp_relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 5 \
	--ctl-socket "$CTL"
TRACKS=(--track test)
PUBTRACKS=(--track test)
if [ "$DATAGRAM" = 1 ]; then
	TRACKS+=(--track dgram)
	PUBTRACKS+=(--datagram-track dgram)
fi
start_pub pub pub --plaintext --rate "$RATE" --object-size "$OBJSIZE" --objects-per-group "$OPG" \
	--subgroups-per-group 2 "${PUBTRACKS[@]}" "$RELAY_IP4:4443"
wait_announce relay
sleep 1

ctl() { "$RELAYCTL" --socket "$CTL" --pin-dir "$FP_PIN" --json "$@" 2>/dev/null; }
MAPCOUNT=$TMP/mapcount
cc -O2 -Wall -Wextra -Werror -o "$MAPCOUNT" "$ROOT/tests/soak/mapcount.c" -lbpf ||
	die "cannot build tests/soak/mapcount.c (needs cc and libbpf-dev)"
MAPS=(moq_subscriptions moq_sub_by_cid moq_down_streams moq_tracks moq_upstreams moq_up_streams)
active_slots() { ctl status | jq -r '.maps.active_slots // .maps.slots_active // empty'; }

# one subscriber "seat": join, stay a random time, leave, join again, until
# $STOP exists; one JSON line per session in $RESULTS. A session asks for
# stay x rate objects of each track (--count: moq-sub waits up to 2 s for the
# holes among them, so a stream object still being retransmitted when the
# time is up is not counted missing), capped by --duration stay + 15 s.
STOP=$TMP/stop
RESULTS=$TMP/sessions.jsonl
: >"$RESULTS"
seat() { # IDX HOST
	local idx=$1 h=$2 n=0 stay rc t0 ip ns pid stopped
	ip=RELAY_IP4_SUB_$h ns=SUB_NS_$h
	ip=${!ip} ns=${!ns}
	trap - EXIT TERM INT
	while [ ! -e "$STOP" ]; do
		stay=$((MIN_STAY + RANDOM % (MAX_STAY - MIN_STAY + 1)))
		n=$((n + 1))
		t0=$(date +%s.%N)
		nsenter --net="/run/netns/$ns" -- "$SUB" --plaintext --json --quiet --count $((stay * RATE)) \
			--duration $((stay + 15)) --connect-timeout 10 "${TRACKS[@]}" "$ip:4443" \
			>"$TMP/seat$idx.json" 2>"$TMP/seat$idx.err" &
		pid=$!
		echo "$pid" >"$TMP/seat$idx.pid"
		wait "$pid"
		rc=$?
		rm -f "$TMP/seat$idx.pid"
		stopped=false
		[ -e "$STOP" ] && stopped=true # ended by the soak's end (SIGTERM)
		jq -c --argjson seat "$idx" --argjson n "$n" --argjson rc "$rc" --argjson stay "$stay" \
			--argjson t0 "$t0" --argjson t1 "$(date +%s.%N)" --argjson stopped $stopped \
			--arg err "$(tail -c 300 "$TMP/seat$idx.err")" \
			'{seat: $seat, n: $n, rc: $rc, stay: $stay, t0: $t0, t1: $t1, stopped: $stopped, err: $err, sub: .}' \
			"$TMP/seat$idx.json" >>"$RESULTS" 2>/dev/null ||
			jq -nc --argjson seat "$idx" --argjson n "$n" --argjson rc "$rc" --argjson stay "$stay" \
				--argjson t0 "$t0" --argjson t1 "$(date +%s.%N)" --argjson stopped $stopped \
				--arg err "$(tail -c 300 "$TMP/seat$idx.err")" \
				'{seat: $seat, n: $n, rc: $rc, stay: $stay, t0: $t0, t1: $t1, stopped: $stopped, err: $err, sub: null}' >>"$RESULTS"
		[ -e "$STOP" ] || sleep "0.$((RANDOM % 10))"
	done
}

# ---------------------------------------------------------------- sampling
rss() { awk '/^VmRSS/{print $2}' "/proc/$RELAY_PID/status"; }
hwm() { awk '/^VmHWM/{print $2}' "/proc/$RELAY_PID/status"; }
fds() { ls "/proc/$RELAY_PID/fd" | wc -l; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$RELAY_PID/stat"; }
pub_ticks() { awk '{print $14 + $15}' "/proc/$PUB_PID/stat"; }
# CPU of the finished moq-sub processes: each seat's cutime + cstime (its
# reaped children; nsenter execs moq-sub)
subs_ticks() {
	local p t=0 v
	for p in "${SEATS[@]}"; do
		v=$(awk '{print $16 + $17}' "/proc/$p/stat" 2>/dev/null) && t=$((t + ${v:-0}))
	done
	echo $t
}
# a field of the relay's last "fastpath subs=..." stats line (cumulative,
# departed subscribers included)
# (the end of the log only: at --log-level info it grows by ~20 kB/s, one
# line per gate drop; the stats line comes every 5 s)
fpline() { tail -c 2000000 "$TMP/relay.log" | grep -ao "fastpath subs=.*" | tail -1; }
fpf() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | tr -d '%'; }
# Each finished session gets a class (jq, JQ_CLASS): ok, or the error it
# shows. Errors: no summary (crash, kill), integrity errors, connection
# failed or lost (exit 3), SUBSCRIBE refused (4), any other exit but 0/1, no
# stream object at all, or an object of the subgroup track missing (1% loss
# is repaired by retransmission, so all of the asked-for objects must come).
# Datagram objects are not retransmitted: exit 1 with only datagram objects
# missing is ok, and their loss is counted (dgram_missing), not an error. A
# session the soak's end stopped (SIGTERM) is judged on integrity and exit
# status only.
JQ_CLASS='def tr(n): [.sub.tracks[]? | select(.name == n)];
def tmiss: [tr("test")[].objects_missing] | add // 0;
def trecv: [tr("test")[].objects_received] | add // 0;
def cls: if .sub == null then "no_summary"
	elif (.sub.integrity_errors // 0) > 0 then "integrity"
	elif .rc == 3 then "connection"
	elif .rc == 4 then "refused"
	elif .rc != 0 and .rc != 1 then "exit_\(.rc)"
	elif .stopped then "ok"
	elif trecv == 0 then "no_objects"
	elif tmiss > 0 then "stream_missing"
	else "ok" end;'
session_stats() { # -> "finished errors dgram_missing dgram_received"
	jq -rs "$JQ_CLASS [length, (map(select(cls != \"ok\")) | length),
		([.[] | select(.stopped | not) | tr(\"dgram\")[].objects_missing] | add // 0),
		([.[] | select(.stopped | not) | tr(\"dgram\")[].objects_received] | add // 0)] | @tsv" "$RESULTS" 2>/dev/null
}
# warn and error lines of the relay log so far (counted incrementally)
WARN_OFF=0 WARN_N=0
relay_warns() {
	local size n
	size=$(stat -c %s "$TMP/relay.log")
	n=$(tail -c +$((WARN_OFF + 1)) "$TMP/relay.log" | head -c $((size - WARN_OFF)) | grep -caE '^(warn|error) ')
	WARN_OFF=$size WARN_N=$((WARN_N + n))
	echo $WARN_N
}

HDR="elapsed_s,load1,host_cpu_busy_pct,rss_kb,hwm_kb,fds,relay_cpu_pct,pub_cpu_pct,subs_cpu_pct,sessions,subscribers_live,moq_subscribers_active"
for m in "${MAPS[@]}"; do HDR+=",${m}"; done
HDR+=",kernel_share_pct,kernel_pkts,agent_pkts,retransmits,lost,gate_drops,resets,raw_bytes,joins,finished,errors,dgram_missing,relay_warnings"
echo "$HDR" >"$CSV"
TCK=$(getconf CLK_TCK)
# the whole VM: 1-min load average, and busy % of all CPUs since the last
# sample (other jobs share it: read the latencies and errors against these)
host_busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }
read -r LAST_HB LAST_HI <<<"$(host_busy)"
SEATS=()
LAST_T=$(date +%s.%N) LAST_C=$(cpu_ticks) LAST_P=$(pub_ticks) LAST_S=0
T0=$(date +%s)

sample() { # ELAPSED
	local now c p sc st row line m
	now=$(date +%s.%N) c=$(cpu_ticks) p=$(pub_ticks) sc=$(subs_ticks)
	st=$(ctl status)
	line=$(fpline)
	local hb hi
	read -r hb hi <<<"$(host_busy)"
	row="$1,$(cut -d' ' -f1 /proc/loadavg)"
	row+=",$(awk -v b="$((hb - LAST_HB))" -v i="$((hi - LAST_HI))" 'BEGIN{printf "%.0f", (b + i) ? 100 * b / (b + i) : 0}')"
	LAST_HB=$hb LAST_HI=$hi
	row+=",$(rss),$(hwm),$(fds)"
	row+=",$(awk -v a="$LAST_C" -v b="$c" -v t0="$LAST_T" -v t1="$now" -v hz="$TCK" 'BEGIN{printf "%.1f", 100*(b-a)/hz/(t1-t0)}')"
	row+=",$(awk -v a="$LAST_P" -v b="$p" -v t0="$LAST_T" -v t1="$now" -v hz="$TCK" 'BEGIN{printf "%.1f", 100*(b-a)/hz/(t1-t0)}')"
	row+=",$(awk -v a="$LAST_S" -v b="$sc" -v t0="$LAST_T" -v t1="$now" -v hz="$TCK" 'BEGIN{if (b < a) print "NA"; else printf "%.1f", 100*(b-a)/hz/(t1-t0)}')"
	LAST_T=$now LAST_C=$c LAST_P=$p LAST_S=$sc
	row+=",$(jq -r '.daemon.sessions // "NA"' <<<"$st"),$(jq -r '.daemon.subscribers // "NA"' <<<"$st")"
	row+=",$(jq -r '.maps.active_slots // "NA"' <<<"$st")"
	for m in $("$MAPCOUNT" "${MAPS[@]/#/$FP_PIN/}"); do row+=",$m"; done
	for m in kernel_share kernel_pkts agent_pkts retransmits lost gate_drops resets raw_bytes; do
		row+=",$(fpf "$line" $m)"
	done
	local fin err dmiss drecv
	read -r fin err dmiss drecv <<<"$(session_stats)"
	row+=",$(cat "$TMP"/seat*.pid 2>/dev/null | wc -l | awk -v f="${fin:-0}" '{print f + $1}'),${fin:-0},${err:-0},${dmiss:-0},$(relay_warns)"
	echo "$row" >>"$CSV"
	log "sample: $row (took $(awk -v a="$now" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s)"
}

sample 0 # baseline: publisher connected, no subscriber
log "starting $NSUBS seats"
for i in $(seq 0 $((NSUBS - 1))); do
	seat "$i" $((i % HOSTS + 1)) &
	_PIDS+=($!)
	SEATS+=($!)
	sleep 0.05
done
at_exit "touch '$STOP'; for f in '$TMP'/seat*.pid; do [ -e \"\$f\" ] && kill \$(cat \"\$f\") 2>/dev/null; done; true"

next=$INTERVAL
while :; do
	el=$(($(date +%s) - T0))
	if [ "$el" -ge "$DURATION" ]; then break; fi
	if [ "$el" -ge "$next" ]; then
		sample "$el"
		# a slow sample (seconds on a loaded VM) skips the slots it missed
		el=$(($(date +%s) - T0))
		while [ "$next" -le "$el" ]; do next=$((next + INTERVAL)); done
	fi
	kill -0 "$RELAY_PID" 2>/dev/null || { tail -20 "$TMP/relay.log" >&2; die "moq-relayd died after ${el}s"; }
	kill -0 "$PUB_PID" 2>/dev/null || { tail -20 "$TMP/pub.log" >&2; die "moq-pub died after ${el}s"; }
	sleep 1
done

# ---------------------------------------------------------------- end
log "stopping the seats (SIGTERM to the subscribers in their sessions)"
touch "$STOP"
for _ in $(seq 30); do
	for f in "$TMP"/seat*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
	alive=0
	for p in "${SEATS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
	[ $alive = 0 ] && break
	sleep 1
done
[ $alive = 0 ] || log "warning: $alive seats still running after 30 s"
# sessions whose CONNECTION_CLOSE was lost end by idle timeout (30 s)
log "waiting for the relay to drop every subscriber session (at most 45 s)"
for _ in $(seq 45); do
	s=$(ctl status | jq -r '.daemon.subscribers // 1')
	[ "$s" = 0 ] && break
	sleep 1
done
sleep 6 # one more stats line
sample "$(($(date +%s) - T0))"
END_ROW=$(tail -1 "$CSV")

# stop the relay cleanly (SIGTERM: GOAWAY, drain), so that a sanitizer build
# (B=build-san) runs LeakSanitizer at its exit; its summary goes to the report
kill -TERM "$RELAY_PID" 2>/dev/null
for _ in $(seq 150); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.1; done
kill -9 "$RELAY_PID" 2>/dev/null && log "warning: moq-relayd did not exit within 15 s of SIGTERM"
wait "$RELAY_PID" 2>/dev/null
RELAY_EXIT=$?
SAN_SUMMARY=$(grep -a "^SUMMARY: \|ERROR: LeakSanitizer\|ERROR: AddressSanitizer\|runtime error:" "$TMP/relay.log" | head -5)
log "moq-relayd exit status $RELAY_EXIT${SAN_SUMMARY:+; sanitizer: $SAN_SUMMARY}"

# ---------------------------------------------------------------- report
. tests/soak/report.sh
soak_report
