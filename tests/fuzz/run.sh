#!/usr/bin/env bash
# Run every libFuzzer target in DIR for SECONDS each, on its corpus in
# tests/fuzz/corpus/NAME (seeds are committed; new inputs go to a scratch dir).
# FUZZ_JOBS targets run at a time (default 1); each is one process, so each
# still gets SECONDS of a CPU when FUZZ_JOBS is at most the CPU count.
#   tests/fuzz/run.sh build-fuzz 60
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build-fuzz} secs=${2:-60} jobs=${FUZZ_JOBS:-1}
rc=0

one() {
	local f=$1 name seeds work
	name=$(basename "$f")
	seeds=tests/fuzz/corpus/$name
	work=$dir/corpus/$name
	mkdir -p "$work"
	"$f" -max_total_time="$secs" -print_final_stats=1 -max_len=4096 \
		-artifact_prefix="$dir/$name-" "$work" $( [ -d "$seeds" ] && echo "$seeds" ) \
		>"$dir/$name.log" 2>&1
}

targets=()
for f in "$dir"/fuzz_*; do
	[ -x "$f" ] && targets+=("$f")
done
for f in "${targets[@]}"; do
	name=$(basename "$f")
	echo "fuzz: $name for ${secs}s"
	rm -f "$dir/$name.failed"
	{ one "$f" || touch "$dir/$name.failed"; } &
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
wait
for f in "${targets[@]}"; do
	name=$(basename "$f")
	if [ -e "$dir/$name.failed" ]; then
		echo "fuzz: $name FOUND A CRASH, see $dir/$name.log"; tail -30 "$dir/$name.log"; rc=1
	else
		grep -E 'stat::number_of_executed_units' "$dir/$name.log" | sed "s/^/fuzz: $name /"
	fi
done
exit $rc
