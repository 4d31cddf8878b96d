#!/usr/bin/env bash
# A short fuzz pass in every `make check` (CI): builds each libFuzzer target
# and runs it for FUZZ_SMOKE_SECONDS on its seed corpus. Any crash fails.
# Long runs: `make fuzz FUZZ_SECONDS=600`.
set -euo pipefail
cd "$(dirname "$0")/../.."
# 8 s each: 13 targets (now 14) made the 15 s pass the longest test in make check
secs=${FUZZ_SMOKE_SECONDS:-8}
make --no-print-directory fuzz-build >/dev/null
ls build-fuzz/fuzz_* >/dev/null 2>&1 || { echo "no fuzz targets built"; exit 1; }
tests/fuzz/run.sh build-fuzz "$secs"
