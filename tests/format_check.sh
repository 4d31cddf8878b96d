#!/usr/bin/env bash
# Every tracked C file formatted as .clang-format says (clang-format 14,
# Debian 12's). Lists the files that differ; `make format` fixes them.
#   tests/format_check.sh        exit 0 when all are formatted, 1 otherwise
set -uo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format_check: clang-format missing (./install.sh)"; exit 1; }
bad=()
while IFS= read -r f; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.c' '*.h')
if [ ${#bad[@]} -gt 0 ]; then
	echo "format_check: ${#bad[@]} file(s) differ from .clang-format ($(clang-format --version | sed 's/.*version //')); run 'make format':"
	printf '  %s\n' "${bad[@]}"
	exit 1
fi
echo "format_check: $(git ls-files '*.c' '*.h' | wc -l) files formatted"
