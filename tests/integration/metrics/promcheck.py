#!/usr/bin/env python3
"""Check a Prometheus text exposition (format 0.0.4) read from a file or
stdin. Prints the samples as `name{labels} value` lines (labels sorted) on
stdout; exits 1 with a message per problem on stderr.

Checked: every sample belongs to a family announced by # HELP and # TYPE
lines before it (for a counter family the sample name is the family name);
TYPE is one of counter, gauge, untyped, summary, histogram; metric and label
names are valid; label values are quoted and use only the escapes \\\\, \\"
and \\n; values parse as floats (or NaN, +Inf, -Inf); counters are >= 0;
no series appears twice; a family's samples are contiguous."""
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LNAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*$")


def parse_labels(s, i, errs, lineno):
    """s[i] == '{'; returns (labels tuple, index after '}')."""
    labels = []
    i += 1
    while True:
        if i < len(s) and s[i] == "}":
            return tuple(labels), i + 1
        m = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", s[i:])
        if not m:
            errs.append(f"line {lineno}: bad label at column {i}: {s[i:i+20]!r}")
            return None, len(s)
        name = m.group(1)
        i += m.end()
        val = []
        while True:
            if i >= len(s):
                errs.append(f"line {lineno}: unterminated label value")
                return None, len(s)
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '\\"n':
                    errs.append(f"line {lineno}: bad escape in label value")
                    return None, len(s)
                val.append({"\\": "\\", '"': '"', "n": "\n"}[s[i + 1]])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                val.append(c)
                i += 1
        if name in [n for n, _ in labels]:
            errs.append(f"line {lineno}: label {name} twice")
        labels.append((name, "".join(val)))
        if i < len(s) and s[i] == ",":
            i += 1
        elif i < len(s) and s[i] == "}":
            continue
        else:
            errs.append(f"line {lineno}: expected , or }} after label {name}")
            return None, len(s)


def check(text):
    errs = []
    help_, type_ = {}, {}
    seen = set()
    done_families = set()
    current = None
    out = []
    if text and not text.endswith("\n"):
        errs.append("exposition does not end with a newline")
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME.match(fam):
                    errs.append(f"line {lineno}: bad metric name {fam!r}")
                if parts[1] == "HELP":
                    if fam in help_:
                        errs.append(f"line {lineno}: second HELP for {fam}")
                    h = parts[3] if len(parts) > 3 else ""
                    if re.search(r"\\[^\\n]", h.replace("\\\\", "")):
                        errs.append(f"line {lineno}: bad escape in HELP of {fam}")
                    help_[fam] = h
                else:
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in ("counter", "gauge", "untyped", "summary", "histogram"):
                        errs.append(f"line {lineno}: bad TYPE {t!r} for {fam}")
                    if fam in type_:
                        errs.append(f"line {lineno}: second TYPE for {fam}")
                    type_[fam] = t
                if current and current != fam:
                    done_families.add(current)
                current = fam
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
        if not m:
            errs.append(f"line {lineno}: no metric name: {line!r}")
            continue
        name = m.group(1)
        i = m.end()
        labels = ()
        if i < len(line) and line[i] == "{":
            labels, i = parse_labels(line, i, errs, lineno)
            if labels is None:
                continue
        rest = line[i:]
        if not rest.startswith(" "):
            errs.append(f"line {lineno}: no space before the value")
            continue
        fields = rest.split()
        if len(fields) not in (1, 2):
            errs.append(f"line {lineno}: bad value/timestamp {rest!r}")
            continue
        try:
            v = float(fields[0])  # accepts NaN, +Inf, -Inf
        except ValueError:
            errs.append(f"line {lineno}: value {fields[0]!r} is not a number")
            continue
        fam = name
        if fam not in type_:
            for suf in ("_sum", "_count", "_bucket"):
                if name.endswith(suf) and name[: -len(suf)] in type_:
                    fam = name[: -len(suf)]
        if fam not in type_ or fam not in help_:
            errs.append(f"line {lineno}: sample {name} without HELP and TYPE before it")
            continue
        if fam in done_families or fam != current:
            errs.append(f"line {lineno}: samples of {fam} are not contiguous")
        if type_[fam] == "counter" and not v >= 0:
            errs.append(f"line {lineno}: counter {name} is {v}")
        key = (name, tuple(sorted(labels)))
        if key in seen:
            errs.append(f"line {lineno}: series {name}{dict(labels)} twice")
        seen.add(key)
        lab = ",".join(f'{k}="{v2}"' for k, v2 in sorted(labels))
        out.append(f"{name}{{{lab}}} {fields[0]}" if lab else f"{name} {fields[0]}")
    return out, errs


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 and sys.argv[1] != "-" else sys.stdin.read()
    out, errs = check(text)
    for e in errs:
        print("promcheck: " + e, file=sys.stderr)
    if not out and not errs:
        print("promcheck: no samples", file=sys.stderr)
        return 1
    print("\n".join(out))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
