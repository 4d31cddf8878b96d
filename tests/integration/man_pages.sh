#!/usr/bin/env bash
# Man pages (docs/man/) against the binaries' --help:
#  - every long option that NAME --help prints appears in NAME's man page,
#    and every long option in the page's SYNOPSIS, OPTIONS, MODES or
#    COMMANDS sections appears in --help (other sections may name other
#    programs' options, e.g. "moq-relayctl --socket" in SEE ALSO prose);
#  - each page renders with groff -man -ww without a warning, and through
#    man-db's `man -l` (when installed).
# Needs no root and no network (it runs under tests/run.sh like the rest).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
cd "$ROOT"
die() { echo "FAIL: $*" >&2; exit 1; }
command -v groff >/dev/null || die "groff missing (apt-get install groff-base)"

PAGES="moq-relayd.8 moq-relayctl.8 moq-relay-probe.8 moq-pub.1 moq-sub.1 moq-inspect.1"
tmp=$(mktemp -d /tmp/manpages.$$.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# a page with a wrong option must be caught: check the checker first
cat >"$tmp/fake.1" <<'EOT'
.TH FAKE 1
.SH SYNOPSIS
.B fake
.RB [ \-\-alpha ]
.SH OPTIONS
.TP
.B \-\-alpha
a
.TP
.BI \-\-gamma\-delta " N"
b
.SH SEE ALSO
fake \-\-zeta
EOT
printf 'usage: fake [--alpha] [--beta]\n' >"$tmp/fake.help"

render() { # PAGE -> plain text, one line per paragraph, ASCII hyphens
	groff -man -Tutf8 -rLL=20000n -rHY=0 -P-cbou "$1" 2>/dev/null |
		sed -e 's/\xe2\x88\x92/-/g' -e 's/\xe2\x80\x90/-/g' -e 's/\xe2\x80\x91/-/g'
}

compare() { # NAME HELPFILE PAGE -> prints differences, returns 1 if any
	render "$3" >"$tmp/$1.txt"
	python3 - "$1" "$2" "$tmp/$1.txt" <<'EOT'
import re, sys
name, helpf, manf = sys.argv[1:]
opt = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*[a-z0-9]")
help_opts = set(opt.findall(open(helpf, errors="replace").read()))
sec, man_opts, man_all = None, set(), set()
for line in open(manf, errors="replace"):
    if re.match(r"^[A-Z][A-Z0-9 ]+$", line.rstrip("\n")):
        sec = line.strip()
        continue
    man_all |= set(opt.findall(line))
    if sec in ("SYNOPSIS", "OPTIONS", "MODES", "COMMANDS"):
        man_opts |= set(opt.findall(line))
bad = 0
for o in sorted(help_opts - man_all):
    print(f"{name}: {o} is in --help but not in the man page")
    bad = 1
for o in sorted(man_opts - help_opts):
    print(f"{name}: {o} is in the man page's SYNOPSIS/OPTIONS but not in --help")
    bad = 1
if not help_opts:
    print(f"{name}: no option found in --help")
    bad = 1
sys.exit(bad)
EOT
}

out=$(compare fake "$tmp/fake.help" "$tmp/fake.1" || true)
grep -q -- "--beta is in --help but not in the man page" <<<"$out" || die "checker missed an option missing from the page: $out"
grep -q -- "--gamma-delta is in the man page" <<<"$out" || die "checker missed an option missing from --help: $out"
! grep -q -- "--zeta\|--alpha" <<<"$out" || die "checker flagged an option outside OPTIONS or a correct one: $out"
printf '.TH X 1\n.SH NAME\n.BX x\n' >"$tmp/warn.1"
[ -n "$(groff -man -Tutf8 -ww -z "$tmp/warn.1" 2>&1)" ] || die "groff -ww printed no warning for an unknown macro"

fail=0
for page in $PAGES; do
	name=${page%.*}
	src=docs/man/$page
	[ -f "$src" ] || { echo "FAIL: $src missing"; fail=1; continue; }
	w=$(groff -man -Tutf8 -ww -z "$src" 2>&1)
	[ -z "$w" ] || { echo "FAIL: groff warnings for $src:"; echo "$w"; fail=1; }
	if command -v man >/dev/null; then
		w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$src" 2>&1 >/dev/null)
		[ -z "$w" ] || { echo "FAIL: man -l warnings for $src:"; echo "$w"; fail=1; }
	fi
	bin=$B/bin/$name
	[ -x "$bin" ] || { echo "FAIL: $bin missing (make all)"; fail=1; continue; }
	"$bin" --help >"$tmp/$name.help" 2>&1 || true
	if compare "$name" "$tmp/$name.help" "$src"; then
		echo "ok   $page: $(grep -o -- '--[a-z0-9-]*' "$tmp/$name.help" | sort -u | wc -l) options agree with --help"
	else
		fail=1
	fi
done
[ $fail = 0 ] || die "man pages and --help disagree (above)"
echo "PASS man_pages"
