#!/usr/bin/env python3
"""bench/residence_report.py - relay residence time from bench/residence.sh's
`tstamp dump` files (lines "point key dport seq ns"): point 1 = the relay's
publisher-side ingress (one stamp per upstream object), point 0 = the
relay's subscriber-side egress (one stamp per copy: fast-path clones keyed
"slotN", before tc/subscriber_egress; the agent's own packets keyed by the
subscriber's address and port). Prints a Markdown table row per run, and
per-run details; --csv appends CSV rows.

    residence_report.py --run MODE N FILE EGRESS_NS INGRESS_NS [--run ...] [--csv FILE]

EGRESS_NS / INGRESS_NS: the stamp programs' mean run times per packet in
that run. Every copy waited for the ingress stamp once and for the egress
stamps of the copies before it; the "without stamps" columns take them out.
"""
import argparse
import statistics


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def load(path):
    ins, outs = {}, {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 5:
                continue
            point, key, port, seq, ns = parts[0], parts[1], parts[2], int(parts[3]), int(parts[4])
            if point == "1":
                ins[seq] = min(ns, ins.get(seq, ns))
            else:
                outs.setdefault(seq, []).append((key.startswith("slot"), f"{key}:{port}", ns))
    return ins, outs


def analyse(mode, n, path, eg_ns, in_ns):
    ins, outs = load(path)
    clone, agent, last, first, copies = [], [], [], [], []
    for seq, t_in in ins.items():
        o = outs.get(seq, [])
        if not o:
            continue
        ks = [ns - t_in for is_clone, _, ns in o if is_clone]
        us = [ns - t_in for is_clone, _, ns in o if not is_clone]
        clone += ks
        agent += us
        allc = ks + us
        copies.append(len(allc))
        last.append(max(allc))
        first.append(min(allc))
    return {
        "mode": mode, "n": n, "objects": len(ins), "matched": len(last),
        "copies_median": statistics.median(copies) if copies else 0,
        "kernel_copies": len(clone), "agent_copies": len(agent),
        "clone_p50": pct(clone, 50), "clone_p99": pct(clone, 99),
        "agent_p50": pct(agent, 50), "agent_p99": pct(agent, 99),
        "first_p50": pct(first, 50), "last_p50": pct(last, 50),
        "last_p99": pct(last, 99), "last_max": max(last) if last else float("nan"),
        "eg_ns": eg_ns, "in_ns": in_ns,
        "first_p50_nostamp": pct(first, 50) - in_ns,
        "last_p50_nostamp": pct(last, 50) - in_ns - (statistics.median(copies) - 1) * eg_ns if copies else float("nan"),
    }


def us(ns):
    return "-" if ns != ns else f"{ns / 1000:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", nargs=5, action="append", metavar=("MODE", "N", "FILE", "EGRESS_NS", "INGRESS_NS"),
                    required=True)
    ap.add_argument("--csv")
    a = ap.parse_args()
    rows = [analyse(m, int(n), f, float(e), float(i)) for m, n, f, e, i in a.run]
    print("| mode | subscribers | upstream objects stamped (with copies) | copies per object (median) | "
          "kernel clones / agent copies | per clone p50 / p99 µs | agent copy p50 / p99 µs | "
          "first copy out p50 µs | last copy out p50 / p99 / max µs | stamp ns egress / ingress | first / last copy out p50 without stamps µs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        name = {"on": "fast path", "off": "userspace", "chain": "edge behind an origin (fast path)"}.get(r["mode"], r["mode"])
        print(f"| {name} | {r['n']} | {r['objects']} ({r['matched']}) | "
              f"{r['copies_median']:g} | {r['kernel_copies']} / {r['agent_copies']} | "
              f"{us(r['clone_p50'])} / {us(r['clone_p99'])} | {us(r['agent_p50'])} / {us(r['agent_p99'])} | "
              f"{us(r['first_p50'])} | {us(r['last_p50'])} / {us(r['last_p99'])} / {us(r['last_max'])} | "
              f"{r['eg_ns']:.0f} / {r['in_ns']:.0f} | {us(r['first_p50_nostamp'])} / {us(r['last_p50_nostamp'])} |")
    if a.csv:
        keys = list(rows[0].keys())
        with open(a.csv, "w") as f:
            f.write(",".join(keys) + "\n")
            for r in rows:
                f.write(",".join(str(r[k]) for k in keys) + "\n")


if __name__ == "__main__":
    main()
