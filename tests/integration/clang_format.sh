#!/usr/bin/env bash
# make check's format check: every tracked .c/.h file as .clang-format says
# (tests/format_check.sh; `make format` fixes what it lists).
exec "$(dirname "$0")/../format_check.sh"
