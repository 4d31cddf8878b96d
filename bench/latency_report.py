#!/usr/bin/env python3
"""Tables and plots for bench/latency.sh (not run on its own).

Reads TMP/runs.txt ("id mode n size round integrity_errors objects_received")
and TMP/run-ID.dump (bench/tstamp dump: "point daddr dport seq ns"), writes
OUT/latency.md, OUT/latency-per-packet.png and OUT/latency-vs-subs.png.
Standard library only; plots with gnuplot.
"""
import argparse
import os
import platform
import subprocess
import time

EGRESS, INGRESS = 0, 1


def pct(sorted_vals, p):
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, -(-len(sorted_vals) * p // 100) - 1))
    return sorted_vals[int(k)]


def us(ns):
    return ns / 1000.0


def fmt(v):
    if v != v:  # nan
        return "–"
    return f"{v:.1f}"


def load_run(path, mode, relay_ip):
    """Per run: samples [(flow, seq, latency_ns, ingress_ns)], spreads, stats."""
    egr, ing = {}, {}
    with open(path) as f:
        for line in f:
            pt, addr, port, seq, ts = line.split()
            key = (addr, int(port), int(seq))
            (egr if int(pt) == EGRESS else ing)[key] = int(ts)
    flows = {}
    for (addr, port, seq) in ing:
        fl = (addr, port)
        flows[fl] = min(flows.get(fl, seq), seq)
    if not flows:
        return None
    # steady state: objects after the last subscriber's first one (its first
    # may be replayed from the relay's cache, or sent while others joined)
    w0 = max(flows.values()) + 1
    if mode == "direct":
        sent = {s for (a, p, s) in egr if (a, p) in flows}
    else:
        sent = {s for (a, p, s) in egr if a == relay_ip and p == 4443}
    sent = {s for s in sent if s >= w0}
    samples, no_egress = [], 0
    per_seq = {}
    for (addr, port, seq), t in ing.items():
        if seq < w0:
            continue
        ekey = (addr, port, seq) if mode == "direct" else (relay_ip, 4443, seq)
        e = egr.get(ekey)
        if e is None:
            no_egress += 1
            continue
        samples.append(((addr, port), seq, t - e))
        per_seq.setdefault(seq, []).append(t)
    nflows = len(flows)
    spreads = sorted(max(v) - min(v) for s, v in per_seq.items() if len(v) == nflows and nflows > 1)
    # the window ends with the last object any subscriber got a stamp for
    last = max(per_seq) if per_seq else w0 - 1
    expected = nflows * len([s for s in sent if s <= last])
    return {
        "samples": samples, "spreads": spreads, "flows": nflows, "w0": w0,
        "expected": expected, "no_egress": no_egress,
    }


def reason_names(maps_h):
    """MOQ_R_* names in enum order from tc-progs/moq_maps.h (for moq_stats keys)."""
    names, inside = [], False
    try:
        with open(maps_h) as f:
            for line in f:
                if line.startswith("enum moq_reason"):
                    inside = True
                elif inside and line.startswith("}"):
                    break
                elif inside:
                    tok = line.strip().split(",")[0].split("=")[0].strip()
                    if tok.startswith("MOQ_R_") and tok != "MOQ_R_MAX":
                        names.append(tok[len("MOQ_R_"):])
    except OSError:
        pass
    return names


def fp_deltas(path):
    """Per fast run: {counter: after - before} from TMP/fpstats.txt."""
    before, after = {}, {}
    try:
        with open(path) as f:
            for line in f:
                rid, which, rest = line.split(None, 2)
                kv = dict(t.split("=") for t in rest.split())
                (before if which == "before:" else after)[int(rid)] = {k: int(v) for k, v in kv.items()}
    except OSError:
        return {}
    out = {}
    for rid, a in after.items():
        b = before.get(rid, {})
        out[rid] = {k: v - b.get(k, 0) for k, v in a.items() if v - b.get(k, 0)}
    return out


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) // 1024} MiB"
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} vCPU ({model}), {mem} RAM, Linux {platform.release()}"


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    ap = argparse.ArgumentParser()
    for a in ("tmp", "out", "relay-ip", "fast-why", "cmd", "env", "stats", "load"):
        ap.add_argument("--" + a, required=True)
    for a in ("rate", "secs", "rounds", "rounds-big", "hosts", "fast", "elapsed"):
        ap.add_argument("--" + a, type=int, required=True)
    args = ap.parse_args()

    runs = []
    with open(os.path.join(args.tmp, "runs.txt")) as f:
        for line in f:
            rid, mode, n, size, rnd, integ, got, kfwd, fails = line.split()
            # "?" = moq-sub summaries that could not be read (killed mid-write)
            runs.append((int(rid), mode, int(n), int(size), int(rnd), int(integ) if integ.isdigit() else -1,
                         int(got) if got.isdigit() else -1,
                         int(kfwd) if kfwd != "-" else None, int(fails)))

    fpd = fp_deltas(os.path.join(args.tmp, "fpstats.txt"))
    rnames = reason_names(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tc-progs", "moq_maps.h"))
    progs = ["upstream_ingress", "subscriber_egress", "subscriber_ingress"]

    agg = {}  # (mode, n, size) -> dict
    for rid, mode, n, size, rnd, integ, got, kfwd, fails in runs:
        r = load_run(os.path.join(args.tmp, f"run-{rid}.dump"), mode, args.relay_ip)
        a = agg.setdefault((mode, n, size), {
            "lat": [], "spread": [], "series": [], "runs": 0, "expected": 0,
            "integ": 0, "flows": [], "no_egress": 0, "empty": 0, "kfwd": None, "fails": 0})
        a["runs"] += 1
        a["fails"] += fails
        for k, v in fpd.get(rid, {}).items():
            a.setdefault("fp", {})
            a["fp"][k] = a["fp"].get(k, 0) + v
        if kfwd is not None:
            a["kfwd"] = (a["kfwd"] or 0) + kfwd
        if integ < 0:
            a["integ_unknown"] = True
        else:
            a["integ"] += integ
        if r is None:
            a["empty"] += 1
            continue
        a["lat"] += [s[2] for s in r["samples"]]
        a["spread"] += r["spreads"]
        a["expected"] += r["expected"]
        a["flows"].append(r["flows"])
        a["no_egress"] += r["no_egress"]
        if n == 1:
            a["series"] += [s[2] for s in sorted(r["samples"], key=lambda x: x[1])]
    for a in agg.values():
        a["lat"].sort()
        a["spread"].sort()

    modes = [m for m in ("direct", "relay", "fast") if any(k[0] == m for k in agg)]
    counts = sorted({k[1] for k in agg})
    sizes = sorted({k[2] for k in agg})
    floor = {(n, s): pct(agg[("direct", n, s)]["lat"], 50)
             for n in counts for s in sizes if ("direct", n, s) in agg and agg[("direct", n, s)]["lat"]}
    names = {"direct": "direct (floor)", "relay": "userspace relay", "fast": "fast path"}

    L = []
    L.append("# Relay-added latency per packet (kernel timestamps)")
    L.append("")
    L.append(f"Generated by `bench/latency.sh` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{args.elapsed} s wall time.")
    L.append("")
    L.append(f"- Machine: {machine()}; every process (publisher, relay, all subscribers) "
             "shares these vCPUs with whatever else runs on the VM "
             f"(load average 1/5/15 min: {args.load}; other engineers' builds and tests ran at the same time).")
    L.append(f"- Command: `{args.cmd}` (settings: `{args.env}`).")
    L.append(f"- Stream: one synthetic track, {args.rate} objects/s, one object per group (each object "
             "opens its own QUIC stream), plaintext profile, `--no-pacing` at the publisher. "
             f"Object sizes: MQP1 payload bytes (100 B: ~150 B UDP payload; 1100 B: one ~1,150 B UDP "
             "payload, the largest object that fits one 1,200-byte QUIC packet).")
    L.append(f"- Runs: for each subscriber count and size, {args.rounds} round(s) ({args.rounds_big} from 64 "
             "subscribers on, where starting the subscriber processes dominates the wall time); in each round one run "
             f"per mode, the mode order rotated between rounds; {args.secs} s measured per run after "
             f"the subscribers are started 8 per 100 ms (through a relay they connect first and re-send "
             "SUBSCRIBE every 200 ms until the publisher is there, so joining does not overlap forwarding; "
             "direct: moq-pub `--wait-subscribers N`), then 1 + N/100 s pass before the measured seconds. netns testbed (`netns/testbed.sh`, separate links) with "
             f"{args.hosts} subscriber namespaces; subscriber k runs in namespace ((k-1) mod "
             f"{args.hosts}) + 1.")
    if args.fast:
        L.append("- Fast path: `moq-relayd --fast-path on` with `tc-progs/relay.bpf.o` attached on the "
                 "relay's interfaces (tc/upstream_ingress on the publisher link, "
                 "tc/subscriber_egress + tc/subscriber_ingress on each subscriber link). The programs stay "
                 "attached for the whole run, so the direct and userspace runs pay their pass-through "
                 "cost too (no agent heartbeat: STALE_AGENT / NOT_MARKED, `TC_ACT_OK`, no clone). "
                 "Per fast run the kernel's clone count (moq_stats, subscriber egress FORWARDED) is "
                 "listed under Coverage: a fast-mode packet can also be sent by the agent from "
                 "userspace (gap fill), and the stamps cannot tell the two apart.")
    else:
        L.append(f"- **fast: unavailable** — {args.fast_why}. No fast-path figures were measured; "
                 "the fast-path columns and the issue's fast-path targets are open.")
    L.append("")
    L.append("## Method")
    L.append("")
    L.append("`tc-progs/testing/tstamp.bpf.c` runs on the clsact **egress of the publisher's eth0** and the "
             "clsact **ingress of every subscriber's eth0**, inside their namespaces (loaded and "
             "attached with libbpf by `bench/tstamp.c`; maps `tst_ring`/`tst_head`/`tst_stats`, pinned only "
             "under a private bpffs directory). For each UDP packet it searches the first 288 payload "
             "bytes for an MQP1 header (magic, version 1) and records `bpf_ktime_get_ns()` under "
             "(point, destination address, destination port, MQP1 sequence number); the first "
             "sighting wins, so a retransmission never moves a stamp. All namespaces share the "
             "clock. Nothing of the relay, publisher or subscriber code is involved in the timing.")
    L.append("")
    L.append("- **one-way latency** of object s to subscriber k = ingress stamp at k − egress stamp at "
             "the publisher of the packet that carried s: in *direct* mode the copy moq-pub sent to k "
             "(its own connection), in *relay*/*fast* mode the one packet sent to the relay.")
    L.append("- **direct (floor)**: moq-pub `--listen` in the publisher namespace and the subscribers "
             "connect to it. The packets cross the same two veth links as through the relay "
             "(publisher eth0 → relay r-pub, relay r-subK → subscriber eth0) and are IP-forwarded by "
             "the relay namespace's kernel; no relay process. It differs from the relay path only "
             "in what happens inside the relay namespace (forwarding vs. socket delivery, relay, "
             "send), so there is no extra hop to correct for. Each copy is timed separately, so the "
             "publisher's own serialisation of N copies is not in the floor.")
    L.append("- **relay-added latency** = one-way latency − the **median direct latency at the same "
             "subscriber count and object size** (one constant per cell, listed below), computed per "
             "packet; its percentiles are those of the one-way latency shifted by that constant.")
    L.append("- Only objects after the last subscriber's first object are used (the first object a "
             "subscriber gets from the relay can be a cache replay; others may still be joining).")
    L.append("- **spread** = for an object received by every subscriber of the run, the last "
             "subscriber's ingress stamp − the first's (the first vs the last copy).")
    L.append("- Percentiles are nearest-rank over all (subscriber, object) pairs of all rounds.")
    L.append("- **One host, one receive path.** All subscribers' receive processing (IP, UDP, socket "
             "wake-up) runs on the same 2 vCPUs as the relay. A copy sent over veth is received from "
             "the per-CPU backlog in order, so the k-th copy of an object is stamped after the receive "
             "work of the k−1 copies before it. With N > 1 the latency and the spread therefore include "
             "subscriber-side work that separate machines would do in parallel; with the fast path the "
             "N clones are queued at once and wait for each other's receive processing, with the "
             "userspace relay each sendto runs the receive work of its copy inline. The per-subscriber "
             "increment (spread p50 / (N−1), below) is an upper bound of the relay's own per-copy cost.")
    L.append("")

    L.append("## One-way latency publisher egress → subscriber ingress (µs)")
    L.append("")
    L.append("| size | subscribers | mode | samples | p50 | p90 | p99 | max |")
    L.append("|---:|---:|---|---:|---:|---:|---:|---:|")
    for s in sizes:
        for n in counts:
            for m in modes:
                a = agg.get((m, n, s))
                if not a:
                    continue
                v = a["lat"]
                L.append(f"| {s} | {n} | {names[m]} | {len(v)} | {fmt(us(pct(v, 50)))} | "
                         f"{fmt(us(pct(v, 90)))} | {fmt(us(pct(v, 99)))} | {fmt(us(v[-1]) if v else float('nan'))} |")
    L.append("")

    L.append("## Relay-added latency (µs): one-way latency − direct median")
    L.append("")
    rel_modes = [m for m in modes if m != "direct"]
    hdr = "| size | subscribers | floor subtracted |"
    sep = "|---:|---:|---:|"
    for m in rel_modes:
        hdr += f" {names[m]} p50 | p90 | p99 | max |"
        sep += "---:|---:|---:|---:|"
    if args.fast:
        hdr += " userspace / fast p50 | p99 |"
        sep += "---:|---:|"
    L.append(hdr)
    L.append(sep)
    for s in sizes:
        for n in counts:
            f0 = floor.get((n, s))
            if f0 is None:
                continue
            row = f"| {s} | {n} | {fmt(us(f0))} |"
            q = {}
            for m in rel_modes:
                v = agg.get((m, n, s), {"lat": []})["lat"]
                for p in (50, 90, 99, 100):
                    q[(m, p)] = us(pct(v, p) - f0) if v else float("nan")
                row += f" {fmt(q[(m, 50)])} | {fmt(q[(m, 90)])} | {fmt(q[(m, 99)])} | {fmt(q[(m, 100)])} |"
            if args.fast:
                for p in (50, 99):
                    u, fa = q.get(("relay", p), float("nan")), q.get(("fast", p), float("nan"))
                    row += f" {u / fa:.1f}× |" if fa and fa > 0 and u == u else " – |"
            L.append(row)
    L.append("")

    if args.fast:
        L.append("## Issue 7 targets for this measurement (computed from the tables above)")
        L.append("")
        L.append("| target | cell | figure | met? |")
        L.append("|---|---|---|---|")
        for s_ in sizes:
            f0 = floor.get((1, s_))
            v = agg.get(("fast", 1, s_), {"lat": []})["lat"]
            if f0 is not None and v:
                d = us(pct(v, 50) - f0)
                L.append(f"| fast p50 within 5 µs of the no-relay floor at 1 subscriber | {s_} B | "
                         f"fast p50 {fmt(us(pct(v, 50)))} µs vs floor {fmt(us(f0))} µs: +{fmt(d)} µs | "
                         f"{'met' if d <= 5 else f'missed by {d - 5:.1f} µs'} |")
        for s_ in sizes:
            for n in counts:
                f0 = floor.get((n, s_))
                u = agg.get(("relay", n, s_), {"lat": []})["lat"]
                fa = agg.get(("fast", n, s_), {"lat": []})["lat"]
                if f0 is None or not u or not fa:
                    continue
                for p, want in ((50, 10), (99, 5)):
                    ua, fa_ = pct(u, p) - f0, pct(fa, p) - f0
                    if fa_ <= 0:
                        ratio, ok = float("inf"), True
                    else:
                        ratio, ok = ua / fa_, ua / fa_ >= want
                    L.append(f"| relay-added p{p} ≥ {want}× lower than userspace | {s_} B, {n} sub | "
                             f"userspace {fmt(us(ua))} µs / fast {fmt(us(fa_))} µs = {ratio:.1f}× | "
                             f"{'met' if ok else 'missed'} |")
        L.append("")
        L.append("Thesis comparison (quoted, not measured here): the thesis reports ≈100 µs lower delay "
                 "per packet for kernel forwarding than userspace forwarding at one connection "
                 "(Figure 4.2). Measured here at 1 subscriber, userspace p50 − fast p50: " +
                 ", ".join(f"{s_} B: {fmt(us(pct(agg[('relay', 1, s_)]['lat'], 50) - pct(agg[('fast', 1, s_)]['lat'], 50)))} µs"
                           for s_ in sizes if agg.get(("relay", 1, s_), {}).get("lat") and agg.get(("fast", 1, s_), {}).get("lat")) + ".")
        L.append("")

    notes = []
    fl = [(n, floor[(n, s_)]) for s_ in sizes[:1] for n in counts if (n, s_) in floor]
    if len(fl) >= 2 and fl[0][1] > 2 * fl[-1][1]:
        notes.append(f"The floor falls as the load rises ({sizes[0]} B: p50 {fmt(us(fl[0][1]))} µs at "
                     f"{fl[0][0]} subscriber(s), {fmt(us(fl[-1][1]))} µs at {fl[-1][0]}): with one packet "
                     "every 33 ms the vCPUs are mostly idle, and the likely cause is the receive side waiting "
                     "for an idle vCPU to wake (not verified here); under load the packets are processed at "
                     "once. That is why the floor subtracted is taken per cell, at the same load.")
    for s_ in sizes:
        for n in counts:
            v = agg.get(("relay", n, s_), {"lat": []})["lat"]
            if v and pct(v, 50) > 100e6:
                notes.append(f"Userspace relay, {n} subscribers, {s_} B: p50 {fmt(us(pct(v, 50)) / 1e6)} s. "
                             "The relay process could not keep up with N × the object rate on the shared "
                             "vCPUs: its queue grew for the whole run, so these figures measure a backlog, "
                             "not a per-packet cost.")
            a = agg.get(("fast", n, s_))
            if a and a["expected"] and len(a["lat"]) < 0.95 * a["expected"]:
                stale = a.get("fp", {}).get("0.1", 0)
                why = (f"the kernel did not fan out {stale} publisher packets because the agent's heartbeat "
                       "was stale (STALE_AGENT, see Coverage), and the agent did not deliver those objects "
                       "in the window" if stale else "see the kernel counters under Coverage")
                notes.append(f"Fast path, {n} subscribers, {s_} B: only {len(a['lat'])} of {a['expected']} "
                             f"(subscriber, object) pairs ({100 * len(a['lat']) / a['expected']:.0f} %) arrived "
                             f"in the window; {why}. The fast percentiles of this cell describe the packets "
                             "that arrived only.")
    if notes:
        L.append("## Notes on this run")
        L.append("")
        for t in notes:
            L.append(f"- {t}")
        L.append("")

    L.append("## Spread across subscribers: last − first subscriber to receive the same object (µs)")
    L.append("")
    L.append("| size | subscribers | mode | objects | p50 | p90 | p99 | max | p50 / (N−1) |")
    L.append("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for s in sizes:
        for n in counts:
            if n < 2:
                continue
            for m in modes:
                a = agg.get((m, n, s))
                if not a:
                    continue
                v = a["spread"]
                L.append(f"| {s} | {n} | {names[m]} | {len(v)} | {fmt(us(pct(v, 50)))} | "
                         f"{fmt(us(pct(v, 90)))} | {fmt(us(pct(v, 99)))} | {fmt(us(v[-1]) if v else float('nan'))} | "
                         f"{fmt(us(pct(v, 50)) / (n - 1))} |")
    L.append("")
    L.append("In *direct* mode the spread is mostly moq-pub writing N connections one after the "
             "other; through a relay it is the relay's fan-out (N sends, or N clones).")
    L.append("")

    L.append("## Coverage")
    L.append("")
    L.append("Pairs = (subscriber, object) pairs measured vs expected (subscribers seen × objects the "
             "publisher sent in the window). A missing pair is an object that did not reach that "
             "subscriber in the window or whose first packet had no MQP1 header in the search window. "
             "Subscribers = distinct subscriber flows seen per run (should equal the count).")
    L.append("")
    L.append("| size | subscribers | mode | runs | pairs measured / expected | subscribers seen per run | moq-sub failures | integrity errors (moq-sub) | clones sent by the kernel (moq_stats egress FORWARDED) |")
    L.append("|---:|---:|---|---:|---:|---|---:|---:|---:|")
    for s in sizes:
        for n in counts:
            for m in modes:
                a = agg.get((m, n, s))
                if not a:
                    continue
                fl = ",".join(str(x) for x in a["flows"]) or "0"
                kf = "–" if a["kfwd"] is None else str(a["kfwd"])
                L.append(f"| {s} | {n} | {names[m]} | {a['runs']} | {len(a['lat'])} / {a['expected']} | "
                         f"{fl} | {a['fails']} | {a['integ']}{' (some summaries unreadable)' if a.get('integ_unknown') else ''} | {kf} |")
    L.append("")
    fast_cells = [(n, s_) for s_ in sizes for n in counts if agg.get(("fast", n, s_), {}).get("fp")]
    if fast_cells:
        L.append("Fast-path kernel counters per cell (moq_stats deltas over the fast runs, packets): "
                 "*fanned out* = publisher packets the upstream program cloned (upstream_ingress "
                 "FORWARDED); *not fanned out* = publisher packets it left to the agent, by reason "
                 "(STALE_AGENT: the agent's heartbeat was older than its timeout, so the kernel stopped "
                 "forwarding and the agent had to send these objects itself); *clones sent* = "
                 "subscriber_egress FORWARDED.")
        L.append("")
        L.append("| size | subscribers | publisher packets fanned out | not fanned out (reason: packets) | clones sent | other egress/ingress counters |")
        L.append("|---:|---:|---:|---|---:|---|")

        def rname(key):
            p_, r_ = (int(x) for x in key.split("."))
            nm = rnames[r_] if r_ < len(rnames) else str(r_)
            return p_, f"{progs[p_] if p_ < len(progs) else p_}.{nm}"

        for n, s_ in fast_cells:
            fp = agg[("fast", n, s_)]["fp"]
            up_not, other = [], []
            for k, v in sorted(fp.items()):
                if k in ("up_fwd", "eg_fwd"):
                    continue
                p_, nm = rname(k)
                if p_ == 0:
                    up_not.append(f"{nm.split('.', 1)[1]}: {v}")
                elif not nm.endswith(".NOT_MARKED") and not nm.endswith(".SUB_RX"):
                    other.append(f"{nm}: {v}")
            L.append(f"| {s_} | {n} | {fp.get('up_fwd', 0)} | {', '.join(up_not) or '0'} | "
                     f"{fp.get('eg_fwd', 0)} | {', '.join(other) or '–'} |")
        L.append("")
    L.append(f"tstamp counters over the whole run: `{args.stats}` (unmatched = UDP packets without an "
             "MQP1 header: ACKs, handshakes, control streams; recorded = sightings appended to the ring, "
             "repeats of an object on the same flow (retransmissions, a second packet) included "
             "and left out by `tstamp dump`; full must be 0).")
    L.append("")

    # ---- plots ----------------------------------------------------------------
    out = args.out
    tmp = args.tmp
    # per-packet series at 1 subscriber: userspace vs fast (or vs direct)
    other = "fast" if args.fast else "direct"
    panels = []
    for s in sizes:
        u = agg.get(("relay", 1, s), {}).get("series", [])
        o = agg.get((other, 1, s), {}).get("series", [])
        k = min(len(u), len(o))
        if k == 0:
            continue
        fn = os.path.join(tmp, f"pp-{s}.dat")
        with open(fn, "w") as f:
            for i in range(k):
                f.write(f"{i} {us(u[i]):.3f} {us(o[i]):.3f} {us(u[i] - o[i]):.3f}\n")
        # a few multi-millisecond outliers would flatten everything else:
        # cut the y axis at 1.5 x the userspace p97 and say how many are above
        ymax = us(pct(sorted(u[:k]), 97)) * 1.5
        diffs = sorted(u[i] - o[i] for i in range(k))
        ymin = min(0.0, us(pct(diffs, 1)) * 1.2)
        above = sum(1 for i in range(k) if us(max(u[i], o[i], u[i] - o[i])) > ymax)
        panels.append((s, fn, ymin, ymax, above, k))
    if panels:
        oname = "fast path" if args.fast else "direct, no relay (floor)"
        g = [f"set terminal pngcairo size 1100,{450 * len(panels)} font ',10'",
             f"set output '{os.path.join(out, 'latency-per-packet.png')}'",
             f"set multiplot layout {len(panels)},1",
             "set grid", "set key top left box opaque", "set xlabel 'packet (object) index, rounds in sequence'",
             "set ylabel 'µs'"]
        for s, fn, ymin, ymax, above, k in panels:
            g.append(f'set title "One-way latency per packet, 1 subscriber, {s}-byte objects: '
                     f'userspace relay vs {oname}\\n(y axis cut at {ymax:.0f} µs: {above} of {k} '
                     f'packets have a point above)"')
            g.append(f"set yrange [{ymin:.0f}:{ymax:.0f}]")
            g.append(f"plot '{fn}' u 1:4 w p pt 7 ps 0.35 lc rgb '#2ca02c' t 'difference userspace - {oname} (same index)', "
                     f"'' u 1:2 w p pt 7 ps 0.45 lc rgb '#ff7f0e' t 'userspace relay', "
                     f"'' u 1:3 w p pt 7 ps 0.45 lc rgb '#1f77b4' t '{oname}'")
        g.append("unset multiplot")
        gnuplot("\n".join(g) + "\n")
    # latency vs subscriber count: one-way p50 and p99 per mode and size
    fn = os.path.join(tmp, "vs.dat")
    cols = []
    with open(fn, "w") as f:
        for n in counts:
            row = [str(n)]
            for m in modes:
                for s in sizes:
                    v = agg.get((m, n, s), {"lat": []})["lat"]
                    row += [f"{us(pct(v, 50)):.3f}" if v else "NaN", f"{us(pct(v, 99)):.3f}" if v else "NaN"]
            f.write(" ".join(row) + "\n")
    c = 2
    plots = []
    color = {"direct": "#7f7f7f", "relay": "#ff7f0e", "fast": "#1f77b4"}
    for m in modes:
        for i, s in enumerate(sizes):
            dt = 1 if i == 0 else 2
            plots.append(f"'{fn}' u 1:{c} w lp lw 2 dt {dt} pt 7 lc rgb '{color[m]}' t '{names[m]} p50, {s} B'")
            plots.append(f"'{fn}' u 1:{c + 1} w lp lw 1 dt {dt} pt 6 lc rgb '{color[m]}' t '{names[m]} p99, {s} B'")
            c += 2
    g = ["set terminal pngcairo size 1000,600 font ',10'",
         f"set output '{os.path.join(out, 'latency-vs-subs.png')}'",
         "set logscale xy 2", "set logscale y 10", "set grid",
         "set key outside right top",
         "set xlabel 'subscribers on one track'", "set ylabel 'one-way latency, µs (log)'",
         f"set xtics ({', '.join(str(n) for n in counts)})",
         f"set xrange [{counts[0] / 1.5}:{counts[-1] * 1.5}]",
         "set title 'Publisher egress → subscriber ingress (kernel timestamps), p50 and p99'",
         "plot " + ", \\\n  ".join(plots)]
    gnuplot("\n".join(g) + "\n")

    L.append("## Plots")
    L.append("")
    if panels:
        L.append("![per-packet latency](latency-per-packet.png)")
        L.append("")
        L.append(f"`latency-per-packet.png` (after the thesis's Figure 4.2): one-way latency of each "
                 f"object at 1 subscriber through the userspace relay and "
                 f"{'the fast path' if args.fast else 'with no relay (the floor; the fast path was unavailable)'}, "
                 "and their difference. Unlike the thesis, the two series are different runs "
                 "(interleaved rounds), so the difference pairs objects with the same index, not "
                 "the same packet.")
        L.append("")
    L.append("![latency vs subscribers](latency-vs-subs.png)")
    L.append("")
    L.append("`latency-vs-subs.png`: one-way latency p50 (solid points) and p99 (open points) per mode "
             "and object size against the subscriber count; the relay-added part is the distance to "
             "the grey direct (floor) line.")
    L.append("")
    with open(os.path.join(out, "latency.md"), "w") as f:
        f.write("\n".join(L))
    print("\n".join(L[L.index("## One-way latency publisher egress → subscriber ingress (µs)"):]))
    print(f"wrote {os.path.join(out, 'latency.md')}")


if __name__ == "__main__":
    main()
