# tests/integration/lib.sh - shared helpers for integration tests. Source it:
#
#   . "$(dirname "$0")/lib.sh"
#   testbed_up 3 [--shared-link] [--csum-offload off] ...
#                  netns/testbed.sh up with the unique prefix $TB_PREFIX,
#                  registers cleanup (trap ... EXIT) and sources the env file
#                  (PUB_NS, RELAY_NS, SUB_NS_1, PUB_IP4, RELAY_IF_SUB_1, ...;
#                  see docs/testbed.md)
#   tb CMD ARGS... netns/testbed.sh CMD --prefix $TB_PREFIX ARGS...
#                  (e.g. tb shape sub1 2mbit; tb loss sub2 5; tb down)
#   on HOST CMD... run CMD in a host's namespace (pub, relay, sub1.., sw);
#                  only the network namespace changes (nsenter --net), so
#                  tc pins into the real /sys/fs/bpf
#   wait_for SECONDS CMD...   poll CMD every 0.1 s until it succeeds; returns 1
#                  after SECONDS (use: wait_for 5 cmd || die "what did not happen")
#   at_exit CMD... run CMD at exit (before the testbed goes down), last first
#   die MSG...     print "FAIL: MSG" and exit 1;  log MSG... prints progress
#
# Tests run as root from the repository root (tests/run.sh does both); $B is
# the build directory (default build). The unique prefix is t<pid>: a
# testbed left with that prefix can only be a stale one and is removed first.

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-build}
export B
TB="$ROOT/netns/testbed.sh"
TB_PREFIX=${TB_PREFIX:-t$$}

log() { echo "[$(date +%T)] $*"; }
die() {
	echo "FAIL: $*" >&2
	exit 1
}

_AT_EXIT=()
at_exit() { _AT_EXIT+=("$*"); }
_run_exit() {
	local rc=$? i
	trap - EXIT
	for ((i = ${#_AT_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_AT_EXIT[i]}" || true
	done
	[ -z "${_TB_UP:-}" ] || testbed_down >/dev/null 2>&1 || true
	exit $rc
}
trap _run_exit EXIT
# make a timeout's SIGTERM (or ^C, a closed terminal, a reader of our
# output that went away) run the EXIT trap too: a test piped into `head`
# died of SIGPIPE and left its namespaces behind
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
trap 'exit 141' PIPE

[ "$(id -u)" = 0 ] || die "integration tests need root (namespaces, tc, BPF)"
# every test may pin under /sys/fs/bpf: mount a bpffs when none is there
# shellcheck source=netns/bpffs.sh
. "$ROOT/netns/bpffs.sh"
moq_ensure_bpffs /sys/fs/bpf || die "no BPF filesystem at /sys/fs/bpf"

tb() {
	local cmd=$1
	shift
	"$TB" "$cmd" --prefix "$TB_PREFIX" "$@"
}

testbed_up() {
	local n=$1
	shift
	if [ -e "/run/moq-testbed/$TB_PREFIX.env" ] || [ -e "/run/moq-testbed/$TB_PREFIX.state" ] ||
		ip netns list | grep -qE "^$TB_PREFIX-"; then
		tb down >/dev/null # stale: a prefix with our pid cannot be another live test's
	fi
	_TB_UP=1
	tb up --subscribers "$n" "$@" || die "netns/testbed.sh up --subscribers $n $* failed"
	# shellcheck disable=SC1090
	. "/run/moq-testbed/$TB_PREFIX.env"
}

testbed_down() {
	tb down
	_TB_UP=
}

on() {
	local h=$1 v
	shift
	case "$h" in
	pub) v=PUB_NS ;;
	relay) v=RELAY_NS ;;
	sw) v=SW_NS ;;
	sub[0-9]*) v=SUB_NS_${h#sub} ;;
	*) die "on: unknown host '$h'" ;;
	esac
	[ -n "${!v:-}" ] || die "on: no namespace for host '$h' (testbed up?)"
	nsenter --net="/run/netns/${!v}" -- "$@"
}

wait_for() {
	local secs=$1 end
	shift
	end=$(($(date +%s%N) + secs * 1000000000))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt $end ] || return 1
		sleep 0.1
	done
}

# tests/run.sh runs every tests/integration/*.sh, this file too: executed
# rather than sourced, it checks its own helpers.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	[[ $TB_PREFIX =~ ^t[0-9]+$ ]] || die "lib: prefix '$TB_PREFIX' is not t<pid>"
	t0=$(date +%s%N)
	! wait_for 1 false || die "lib: wait_for succeeded on a command that always fails"
	t1=$((($(date +%s%N) - t0) / 1000000))
	[ $t1 -ge 1000 ] && [ $t1 -lt 2000 ] || die "lib: wait_for 1 gave up after $t1 ms"
	f=$(mktemp -u)
	at_exit rm -f "$f"
	(sleep 0.3 && touch "$f") &
	wait_for 3 test -e "$f" || die "lib: wait_for missed a file that appeared after 0.3 s"
	wait
	(die "expected" 2>/dev/null) && die "lib: die did not fail"
	log "lib: helpers ok"
fi
