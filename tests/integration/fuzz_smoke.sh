#!/usr/bin/env bash
# A short fuzz pass in every `make check` (CI): builds each libFuzzer target
# and runs it for FUZZ_SMOKE_SECONDS on its seed corpus. Any crash fails.
# Long runs: `make fuzz FUZZ_SECONDS=600`.
set -euo pipefail
cd "$(dirname "$0")/../.."
# 8 s of one CPU each for the 15 targets; they run one per CPU at a time
# (no other test runs beside this one): ~64 s instead of ~123 s on 2 vCPUs
secs=${FUZZ_SMOKE_SECONDS:-8}
ncpu=$(nproc)
make --no-print-directory -j"$ncpu" fuzz-build >/dev/null
ls build-fuzz/fuzz_* >/dev/null 2>&1 || { echo "no fuzz targets built"; exit 1; }
FUZZ_JOBS=${FUZZ_JOBS:-$ncpu} tests/fuzz/run.sh build-fuzz "$secs"
