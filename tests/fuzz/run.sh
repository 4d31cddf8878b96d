#!/usr/bin/env bash
# Run every libFuzzer target in DIR for SECONDS each, on its corpus in
# tests/fuzz/corpus/NAME (seeds are committed; new inputs go to a scratch dir).
#   tests/fuzz/run.sh build-fuzz 60
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build-fuzz} secs=${2:-60}
rc=0
for f in "$dir"/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	seeds=tests/fuzz/corpus/$name
	work=$dir/corpus/$name
	mkdir -p "$work"
	echo "fuzz: $name for ${secs}s"
	if ! "$f" -max_total_time="$secs" -print_final_stats=1 -max_len=4096 \
		-artifact_prefix="$dir/$name-" "$work" $( [ -d "$seeds" ] && echo "$seeds" ) \
		>"$dir/$name.log" 2>&1; then
		echo "fuzz: $name FOUND A CRASH, see $dir/$name.log"; tail -30 "$dir/$name.log"; rc=1
	else
		grep -E 'stat::number_of_executed_units' "$dir/$name.log" | sed "s/^/fuzz: $name /"
	fi
done
exit $rc
