#!/usr/bin/env bash
# Timer heap cost per operation (re-arm / cancel) of a build's libmoq.a, for
# one or more builds in the same invocation (docs/results.md §11 "Fifth
# round: 1,000 audio subscribers"). No root needed.
#   B=build bench/timer_heap.sh [BUILD_DIR...] [-- TIMERS [EVICT]]
set -euo pipefail
cd "$(dirname "$0")/.."
builds=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do builds+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#builds[@]} -gt 0 ] || builds=("${B:-build}")
WORK=$(mktemp -d /tmp/moq-timerheap.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
for b in "${builds[@]}"; do
	[ -f "$b/libmoq.a" ] || { echo "missing $b/libmoq.a: run make first"; exit 1; }
	bin=$WORK/th-$(echo "$b" | tr / _)
	cc -O2 -std=gnu11 -D_GNU_SOURCE -Imoq bench/timer_heap.c "$b/libmoq.a" -o "$bin"
	echo "$b: $("$bin" "$@")"
done
