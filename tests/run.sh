#!/usr/bin/env bash
# Runs every Check unit-test binary, then every integration test script
# (tests/integration/*.sh, which need root for namespaces and BPF), and ends
# with one line "N passed, N failed" counting individual test cases.
#
#   B=build tests/run.sh [--unit-only] [--filter REGEX]
set -uo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
unit_only=0 filter=.
while [ $# -gt 0 ]; do
	case "$1" in
	--unit-only) unit_only=1 ;;
	--filter) shift; filter=$1 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}
# Tests pin BPF maps under /sys/fs/bpf: mount a bpffs there when none is
# (a fresh VM boots without one). Without root the BPF tests fail anyway.
if [ "$(id -u)" = 0 ]; then
	. netns/bpffs.sh
	moq_ensure_bpffs /sys/fs/bpf || echo "run.sh: no BPF filesystem at /sys/fs/bpf: the fast-path tests will fail" >&2
fi
passed=0 failed=0 failures=() t0=$(date +%s)
logdir=$B/test-logs
mkdir -p "$logdir"

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	[[ $name =~ $filter ]] || continue
	log=$logdir/$name.log
	start=$(date +%s)
	"$t" >"$log" 2>&1
	rc=$?
	dur=$(( $(date +%s) - start ))
	# Check prints "NN%: Checks: N, Failures: F, Errors: E"
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -1)
	if [ -n "$line" ]; then
		n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		bad=$((f + e))
		passed=$((passed + n - bad)); failed=$((failed + bad))
	else
		n=0 bad=1; failed=$((failed + 1))
	fi
	if [ $rc -ne 0 ] || [ "$bad" -ne 0 ]; then
		failures+=("$name")
		echo "FAIL $name ($line, ${dur}s)"; grep -E ':[EF]:' "$log" | head -20
	else
		echo "ok   $name ($n checks, ${dur}s)"
	fi
done

if [ $unit_only = 0 ]; then
	for s in tests/integration/*.sh; do
		[ -e "$s" ] || continue
		name=$(basename "$s" .sh)
		[[ $name =~ $filter ]] || continue
		log=$logdir/$name.log
		if [ "$(id -u)" != 0 ]; then
			echo "FAIL $name: needs root (namespaces, tc, BPF); run make check as root"
			failed=$((failed + 1)); failures+=("$name"); continue
		fi
		start=$(date +%s)
		B=$B timeout --kill-after=10 "${INTEGRATION_TIMEOUT:-600}" bash "$s" >"$log" 2>&1
		rc=$?
		dur=$(( $(date +%s) - start ))
		if [ $rc -eq 0 ]; then
			passed=$((passed + 1)); echo "ok   $name (${dur}s)"
		else
			failed=$((failed + 1)); failures+=("$name")
			echo "FAIL $name (exit $rc, ${dur}s); last lines of $log:"; tail -25 "$log" | sed 's/^/    /'
		fi
	done
fi

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "run.sh: $(( $(date +%s) - t0 ))s"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
