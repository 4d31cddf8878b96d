#!/usr/bin/env bash
# bench/run.sh - run every benchmark (bench/*.sh but this one and lib.sh,
# the helpers they share) in turn; each writes its results under docs/
# (docs/results/ for most). `make bench` calls `B=$(B) bench/run.sh`. Needs
# root (netns, BPF).
#
#   B=build bench/run.sh [--quick] [--only NAME[,NAME...]] [--list]
#
# --quick  short runs (a smoke test of the benchmarks; the numbers it writes
#          are less stable): per script its own short setting, below. Also
#          BENCH_QUICK=1 in the environment (`make bench BENCH_QUICK=1`).
# --only   run only these scripts (names without .sh, e.g. latency,bpf_cost).
# Prints one summary line per benchmark (status, time, what it wrote) and
# exits non-zero if any failed. Full logs: $BENCH_LOG_DIR (default
# /tmp/moq-bench-logs).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# the benchmarks pin BPF maps under /sys/fs/bpf: mount a bpffs when none is
. netns/bpffs.sh
[ "$(id -u)" != 0 ] || moq_ensure_bpffs /sys/fs/bpf || exit 1
export B=${B:-build}
QUICK=${BENCH_QUICK:-0} ONLY="" LIST=0
[ "$QUICK" = 1 ] || QUICK=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--only) ONLY=${2:-}; shift ;;
	--list) LIST=1 ;;
	-h | --help) sed -n '2,15p' "$0"; exit 0 ;;
	*) echo "usage: $0 [--quick] [--only NAME[,NAME...]] [--list]" >&2; exit 2 ;;
	esac
	shift
done

SCRIPTS=()
for f in bench/*.sh; do
	n=$(basename "$f" .sh)
	[ "$n" = run ] || [ "$n" = lib ] && continue # this runner; the shared helpers
	if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$n,"* ]]; then continue; fi
	SCRIPTS+=("$f")
done
if [ $LIST = 1 ]; then printf '%s\n' "${SCRIPTS[@]}"; exit 0; fi
[ ${#SCRIPTS[@]} -gt 0 ] || { echo "bench: no benchmark matches '$ONLY'" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces, BPF)" >&2; exit 2; }

# Per script: arguments and environment for --quick. A script not listed
# runs with its defaults (and gets BENCH_QUICK=1 in its environment).
quick_args() {
	case "$1" in
	pub_sub_loopback) echo "--seconds 1" ;;
	latency | fanout_connections | residence) echo "--quick" ;;
	esac
}
quick_env() { # one VAR=value per line
	case "$1" in
	relay_userspace) printf '%s\n' BENCH_SECONDS=3 "BENCH_COUNTS=1 8" ;;
	esac
}

LOGDIR=${BENCH_LOG_DIR:-/tmp/moq-bench-logs}
mkdir -p "$LOGDIR"
SUMMARY=() FAILED=0 T0=$(date +%s)
echo "bench: ${#SCRIPTS[@]} benchmark(s)$([ $QUICK = 1 ] && echo ', quick'), B=$B, logs in $LOGDIR"
for f in "${SCRIPTS[@]}"; do
	n=$(basename "$f" .sh)
	args=() envs=(BENCH_QUICK=$QUICK)
	if [ $QUICK = 1 ]; then
		read -r -a args <<<"$(quick_args "$n")"
		mapfile -t qe < <(quick_env "$n")
		envs+=("${qe[@]}")
	fi
	log=$LOGDIR/$n.log
	stamp=$(mktemp /tmp/moq-bench-stamp.XXXXXX)
	echo "== $f ${args[*]}"
	t=$(date +%s)
	env "${envs[@]}" bash "$f" "${args[@]}" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	dt=$(($(date +%s) - t))
	# what it wrote: files under docs/ newer than the start of this script
	wrote=$(find docs -newer "$stamp" -type f 2>/dev/null | sort | tr '\n' ' ')
	rm -f "$stamp"
	if [ "$rc" = 0 ]; then st=ok; else st="FAILED (exit $rc)"; FAILED=$((FAILED + 1)); fi
	SUMMARY+=("$(printf '%-20s %-16s %5ds  %s' "$n" "$st" "$dt" "${wrote:-(nothing written)}")")
done

echo
echo "bench summary ($(($(date +%s) - T0)) s, $(uname -r), $(nproc) vCPU):"
printf '  %s\n' "${SUMMARY[@]}"
[ $FAILED = 0 ] || { echo "bench: $FAILED benchmark(s) failed; logs in $LOGDIR" >&2; exit 1; }
