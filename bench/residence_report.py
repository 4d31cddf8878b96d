#!/usr/bin/env python3
"""bench/residence_report.py - relay residence time from bench/residence.sh's
`tstamp dump` files (lines "point key dport seq ns"): point 1 = the relay's
publisher-side ingress (one stamp per upstream object), point 0 = the
relay's subscriber-side egress (one stamp per copy: fast-path clones keyed
"slotN", before tc/subscriber_egress; the agent's own packets keyed by the
subscriber's address and port). Prints a Markdown table row per run, and
per-run details; --csv appends CSV rows.

    residence_report.py --run MODE N FILE EGRESS_NS INGRESS_NS [--run ...] [--csv FILE]
    residence_report.py --breakdown "MODE N OBJECTS RUNS NS TOTAL ×5" ...

    residence_report.py --timeline "MODE N SENT DEPART ARRIVE_DUMP JSON,JSON..." ...

--timeline (bench/residence_tls.sh): per object, publisher send time (SENT:
"seq ns") -> the publisher's own interface (DEPART: "seq ns") -> relay
ingress -> each copy at the subscriber's interface (ARRIVE_DUMP), against
the latency the moq-sub processes reported (their --json files: median of
their p50s), so the receivers' share is the rest.

--breakdown (bench/residence_tls.sh): a table of the programs' run counts
and times (kernel.bpf_stats_enabled) per mode, in the order
upstream_ingress, subscriber_egress, seal, tsr_egress, tsr_ingress.

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


NAMES = {"on": "fast path", "off": "userspace", "chain": "edge behind an origin (fast path)",
         "plain-on": "plaintext fast path", "tls-off": "TLS userspace", "tls-on": "TLS fast path"}


def name(mode):
    base, rx = (mode[:-3], True) if mode.endswith("@rx") else (mode, False)
    return NAMES.get(base, base) + (" (at the subscriber)" if rx else "")


def breakdown(entries):
    progs = ["upstream_ingress", "subscriber_egress", "moq_subscriber_seal", "tsr_egress", "tsr_ingress"]
    print("| mode | subscribers | objects | " + " | ".join(f"{p} runs / ns / µs per object" for p in progs) +
          " | upstream_ingress without the clones' egress, µs per object |")
    print("|---|---:|---:|" + "---:|" * (len(progs) + 1))
    for e in entries:
        f = e.split()
        mode, n, objs = f[0], f[1], int(f[2])
        cells, tots = [], []
        for i in range(len(progs)):
            runs, ns, tot = (int(x) for x in f[3 + 3 * i:6 + 3 * i])
            tots.append(tot)
            if not runs and progs[i] == "moq_subscriber_seal":
                cells.append("0 (tail-called: counted in subscriber_egress)" if mode.endswith("on") and mode.startswith("tls") else "-")
            else:
                cells.append("-" if not runs else f"{runs} / {ns} / {tot / objs / 1000:.2f}" if objs else f"{runs} / {ns} / -")
        # a clone's egress (subscriber_egress, the seal, tsr_egress) runs
        # inside bpf_clone_redirect, i.e. inside upstream_ingress's run
        excl = (tots[0] - tots[1] - tots[3]) / objs / 1000 if objs and mode.endswith("on") else None
        cells.append("-" if excl is None else f"{excl:.2f}")
        print(f"| {name(mode)} | {n} | {objs} | " + " | ".join(cells) + " |")


def timeline(entries):
    import json
    print("| mode | subscribers | objects sent in the window / with copies stamped | send → publisher's interface p50 / p99 µs | "
          "publisher's interface → relay in p50 / p99 µs | relay in → subscriber's interface p50 / p99 µs (per copy) | "
          "send → subscriber's interface p50 / p99 µs (per copy) | moq-sub latency p50 (median of processes) / worst p99 µs | "
          "moq-sub p50 − send → interface p50 µs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def read(path):
        d = {}
        try:
            with open(path) as f:
                for line in f:
                    q, ns = line.split()
                    d[int(q)] = int(ns)
        except OSError:
            pass
        return d

    for e in entries:
        mode, n, sent_path, depart_path, arrive_path, jsons = e.split()
        sent, depart = read(sent_path), read(depart_path)
        ins, outs = load(arrive_path)
        leg1 = [depart[q] - sent[q] for q in ins if q in sent and q in depart]
        leg2 = [ins[q] - depart[q] for q in ins if q in depart]
        res = [ns - ins[q] for q, o in outs.items() if q in ins for _, _, ns in o]
        tot = [ns - sent[q] for q, o in outs.items() if q in sent for _, _, ns in o]
        p50s, p99s = [], []
        for j in jsons.split(","):
            try:
                with open(j) as f:
                    d = json.load(f)
                p50s.append(d["latency_us"]["p50"])
                p99s.append(d["latency_us"]["p99"])
            except (OSError, ValueError, KeyError):
                pass
        app = statistics.median(p50s) if p50s else float("nan")
        after = app - pct(tot, 50) / 1000 if tot else float("nan")
        with_copies = sum(1 for q in ins if outs.get(q))
        print(f"| {name(mode)} | {n} | {len(ins)} / {with_copies} | {us(pct(leg1, 50))} / {us(pct(leg1, 99))} | "
              f"{us(pct(leg2, 50))} / {us(pct(leg2, 99))} | {us(pct(res, 50))} / {us(pct(res, 99))} | "
              f"{us(pct(tot, 50))} / {us(pct(tot, 99))} | {app:.1f} / {max(p99s) if p99s else float('nan'):.1f} | {after:.1f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", nargs=5, action="append", metavar=("MODE", "N", "FILE", "EGRESS_NS", "INGRESS_NS"))
    ap.add_argument("--breakdown", nargs="+")
    ap.add_argument("--timeline", nargs="+")
    ap.add_argument("--csv")
    a = ap.parse_args()
    if a.breakdown:
        breakdown(a.breakdown)
        return
    if a.timeline:
        timeline(a.timeline)
        return
    if not a.run:
        ap.error("--run or --breakdown")
    rows = [analyse(m, int(n), f, float(e), float(i)) for m, n, f, e, i in a.run]
    print("| mode | subscribers | upstream objects stamped (with copies) | copies per object (median) | "
          "kernel clones / agent copies | per clone p50 / p99 µs | agent copy p50 / p99 µs | "
          "first copy out p50 µs | last copy out p50 / p99 / max µs | stamp ns egress / ingress | first / last copy out p50 without stamps µs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {name(r['mode'])} | {r['n']} | {r['objects']} ({r['matched']}) | "
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
