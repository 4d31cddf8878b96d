# bench/lib.sh - what the testbed benchmarks share; sourced, not run:
#
#   . "$(dirname "$0")/lib.sh"      ROOT, B (absolute), TB, PIDS=(), die
#   bench_init PREFIX NAME          P, TMP, MNT, PIN, OBJ, T0, LOAD0
#   bench_need FILE... [-- CMD...]  root, the build files under $B, commands
#   BUILDINFO=$(bench_buildinfo [--no-bpf])  the tree and binaries measured
#                                   (B outside this tree: its COMMIT file)
#   bench_traps                     bench_cleanup on exit, exit 130 on INT/TERM
#   bench_testbed_up HOSTS          netns/testbed.sh up --prefix $P, its env
#   bench_fast_attach OBJ HOSTS     relay.bpf.o on the relay, pins under $MNT
#   relay_args MODE                 moq-relayd's arguments (on*: fast path)
#   in_ns NS CMD..., sub_ns H, sub_gw H, waitlog FILE RE, stopwait PID
#   wait_ready LOG N                sets ready: moq-relayd sessions ready in
#                                   LOG (the publisher's too) once > N, or
#                                   after 10 s without a new one (90 s max)
#   cpu_ticks PID, proc_ticks PID, cpu_seconds PID, HZ   CPU time of a
#                                   process (/proc/PID/stat)
#
# The script sets P (testbed prefix, at most 12 characters), TMP (its work
# directory) and, for the fast path, MNT (a private bpffs pin root) before
# bench_traps. bench_cleanup kills every pid in PIDS, takes the testbed
# down, removes MNT and TMP (kept with BENCH_KEEP=1) and first runs
# bench_cleanup_extra when the script defines it.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
TB=$ROOT/netns/testbed.sh
PIDS=()
HZ=$(getconf CLK_TCK)

die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }

# the fast path's pin roots live under /sys/fs/bpf: every benchmark, also
# one run alone, mounts a bpffs there when none is (netns/bpffs.sh)
# shellcheck source=netns/bpffs.sh
. "$ROOT/netns/bpffs.sh"
[ "$(id -u)" != 0 ] || moq_ensure_bpffs /sys/fs/bpf || die "no BPF filesystem at /sys/fs/bpf"

# PREFIX NAME: P (testbed prefix PREFIX + pid, 12 characters at most), TMP
# (/tmp/NAME.XXXXXX), MNT and PIN (a private pin root and its tc globals),
# OBJ (relay.bpf.o), T0 (start, s) and LOAD0 (load average at the start)
bench_init() {
	P=$1$$
	P=${P:0:12}
	TMP=$(mktemp -d "/tmp/$2.XXXXXX")
	MNT=/sys/fs/bpf/moq-bench-$P
	PIN=$MNT/tc/globals
	OBJ=$B/tc-progs/relay.bpf.o
	T0=$(date +%s)
	LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
}

bench_need() {
	local t
	[ "$(id -u)" = 0 ] || die "needs root"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		[ -e "$B/$1" ] || die "$B/$1 missing (make)"
		shift
	done
	[ $# -gt 0 ] && shift
	for t in "$@"; do command -v "$t" >/dev/null || die "$t missing${BENCH_NEED_HINT:+ ($BENCH_NEED_HINT)}"; done
}

# the tree and the binaries at the start; --no-bpf leaves out relay.bpf.o
bench_buildinfo() {
	local s
	case "$B" in
	"$ROOT"/*)
		s="git HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
		git -C "$ROOT" diff --quiet HEAD -- agent tc-progs moq 2>/dev/null ||
			s+=" plus uncommitted changes under agent/, tc-progs/ or moq/"
		;;
	*) # a build of another tree: what its COMMIT file says it is
		s="built from $(cat "$B/COMMIT" 2>/dev/null || echo 'an unnamed tree (no COMMIT file)')" ;;
	esac
	s+="; moq-relayd built $(date -u -r "$B/bin/moq-relayd" '+%Y-%m-%d %H:%M:%S' 2>/dev/null) UTC"
	[ "${1:-}" = --no-bpf ] ||
		s+=", relay.bpf.o $(date -u -r "$B/tc-progs/relay.bpf.o" '+%H:%M:%S' 2>/dev/null) UTC"
	echo "$s"
}

bench_cleanup() {
	local p
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	declare -F bench_cleanup_extra >/dev/null && bench_cleanup_extra
	"$TB" down --prefix "$P" >/dev/null 2>&1 || true
	[ -n "${MNT:-}" ] && rm -rf "$MNT"
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}

bench_traps() {
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_testbed_up() { # HOSTS
	"$TB" up --subscribers "$1" --prefix "$P" >/dev/null
	# shellcheck disable=SC1090
	. "/run/moq-testbed/$P.env"
}

in_ns() { local ns=$1; shift; exec nsenter --net="/run/netns/$ns" -- "$@"; }
sub_ns() { local v=SUB_NS_$1; echo "${!v}"; }
sub_gw() { local v=RELAY_IP4_SUB_$1; echo "${!v}"; }
# FILE RE: wait for RE in FILE, WAITLOG_TRIES (200) times 0.1 s, else die
waitlog() {
	for _ in $(seq "${WAITLOG_TRIES:-200}"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	cat "$1" >&2
	die "no '$2' in $1"
}
# LOG N: sets ready (": ready (peer" lines of moq-relayd's info log); a
# client whose handshake failed never comes, so 10 s without progress ends it
wait_ready() {
	local last=0 still=0
	ready=0
	for _ in $(seq 1 450); do
		ready=$(grep -c ': ready (peer' "$1" || true)
		[ "$ready" -gt "$2" ] && return 0
		if [ "$ready" = "$last" ]; then still=$((still + 1)); else still=0 last=$ready; fi
		[ "$still" -lt 50 ] || return 0
		sleep 0.2
	done
}
# PID: SIGTERM, at most 8 s, SIGKILL
stopwait() { kill "$1" 2>/dev/null || true; timeout 8 tail --pid="$1" -f /dev/null || kill -9 "$1" 2>/dev/null || true; }

# tc in the relay's namespace, pins under the private root $MNT
rtc() { TC_BPF_MNT=$MNT nsenter --net="/run/netns/$RELAY_NS" tc "$@"; }
# The fast path, attached once: upstream_ingress on the publisher side,
# subscriber_egress and subscriber_ingress on each of HOSTS subscriber
# sides. Runs without the fast path leave it attached: with no agent
# heartbeat the programs pass everything through.
bench_fast_attach() { # OBJ HOSTS
	local obj=$1 h v
	mkdir -p "$MNT"
	rtc qdisc add dev "$RELAY_IF_PUB" clsact
	rtc filter add dev "$RELAY_IF_PUB" ingress bpf da obj "$obj" sec tc/upstream_ingress
	for h in $(seq 1 "$2"); do
		v=RELAY_IF_SUB_$h
		rtc qdisc add dev "${!v}" clsact
		rtc filter add dev "${!v}" egress bpf da obj "$obj" sec tc/subscriber_egress
		rtc filter add dev "${!v}" ingress bpf da obj "$obj" sec tc/subscriber_ingress
	done
}

# MODE: moq-relayd's arguments for a run; modes on* use the fast path
relay_args() {
	echo --plaintext --listen 0.0.0.0:4443 --log-level info --stats-interval 1 --ctl-socket none
	case "$1" in on*) echo --fast-path on --bpf-pin-dir "$PIN" ;; esac
	true
}

# CPU time of a process in HZ ticks: user + system, or "user system"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
proc_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
# "1.23 s" of user + system CPU so far (nothing when the process is gone)
cpu_seconds() { awk -v hz="$HZ" '{ printf "%.2f s", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || true; }

# bench_quick_args "$@": the only option of a benchmark is --quick; sets
# QUICK (1 with --quick or BENCH_QUICK=1, else 0), usage error otherwise
bench_quick_args() {
	local a
	QUICK=${BENCH_QUICK:-0}
	for a in "$@"; do
		case "$a" in
		--quick) QUICK=1 ;;
		*) echo "usage: $0 [--quick]" >&2; exit 2 ;;
		esac
	done
}
