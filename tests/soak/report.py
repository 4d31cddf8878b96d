#!/usr/bin/env python3
"""Report of a tests/soak/soak.sh run: reads the CSV of samples, the JSON
lines of finished subscriber sessions (already classified by soak.sh) and a
JSON file of settings/machine facts; writes the markdown report and a
gnuplot script; prints the verdict lines and exits 1 when a bound failed.

    report.py META.json SAMPLES.csv SESSIONS.jsonl OUT.md PLOT.gp
"""
import csv
import json
import sys


def num(v):
    if v is None or v == "" or v == "NA":
        return None
    try:
        return float(v)
    except ValueError:
        return None


def fit(xs, ys):
    """least-squares slope and intercept"""
    n = len(xs)
    if n < 2:
        return 0.0, ys[0] if ys else 0.0
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0, my
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx
    return b, my - b * mx


def fmt(v, nd=0):
    if v is None:
        return "-"
    if nd == 0:
        return f"{v:,.0f}".replace(",", " ")
    return f"{v:.{nd}f}"


def main():
    meta_f, csv_f, ses_f, out_f, gp_f = sys.argv[1:6]
    meta = json.load(open(meta_f))
    rows = list(csv.DictReader(open(csv_f)))
    for r in rows:
        for k in list(r):
            r[k] = num(r[k])
    sessions = [json.loads(l) for l in open(ses_f) if l.strip()]
    dur = meta["duration"]
    maps = meta["maps"]
    base, end = rows[0], rows[-1]
    run = [r for r in rows[1:-1]] or rows[1:]  # samples while seats ran

    # ---- memory: linear fit of RSS over the second half of the run
    half = [r for r in run if r["elapsed_s"] >= dur / 2 and r["rss_kb"] is not None]
    xs = [r["elapsed_s"] for r in half]
    ys = [r["rss_kb"] for r in half]
    slope, icpt = fit(xs, ys)  # kB per s
    slope_h = slope * 3600
    growth = slope * (dur / 2)
    rss_ok = growth < meta["rss_bound_kb"]
    fds_run = [r["fds"] for r in run if r["fds"] is not None]
    fds_ok = end["fds"] == base["fds"] and (not fds_run or max(fds_run) - min(fds_run) <= 8)

    # ---- maps: occupancy and return to baseline
    LRU_STREAM_MAPS = ("moq_down_streams", "moq_up_streams")
    gauges = ["moq_subscribers_active"] + maps
    map_rows = []
    maps_ok = True
    for m in gauges:
        vals = [r[m] for r in run if r[m] is not None]
        back = end[m] == base[m]
        if m in LRU_STREAM_MAPS:
            # by design: finished streams' entries stay (marked reset, so a
            # late retransmission cannot open a second stream) until the
            # LRU map evicts them; bounded by its capacity
            cap = meta["capacity"].get(m)
            back = not cap or not vals or max(vals) <= cap
        elif m == "moq_upstreams" and vals:
            # the publisher's connection IDs: registered at the first
            # subscription, kept while the publisher stays connected; must
            # not grow (retired CIDs deleted)
            back = max(vals) == min(vals) and end[m] <= max(vals)
        maps_ok = maps_ok and back
        map_rows.append((m, base[m], min(vals) if vals else None, max(vals) if vals else None, end[m], back))
    sess_back = end["subscribers_live"] == 0

    # ---- sessions
    classes = {}
    for s in sessions:
        classes[s["class"]] = classes.get(s["class"], 0) + 1
    hard = {k: v for k, v in classes.items() if k not in ("ok", "stream_missing")}
    nhard = sum(hard.values())
    judged = [s for s in sessions if not s["stopped"]]
    t_recv = sum(s["test_received"] for s in judged)
    t_miss = sum(s["test_missing"] for s in judged)
    d_recv = sum(s["dgram_received"] for s in judged)
    d_miss = sum(s["dgram_missing"] for s in judged)
    t_miss_pct = 100.0 * t_miss / (t_recv + t_miss) if t_recv + t_miss else 0.0
    d_miss_pct = 100.0 * d_miss / (d_recv + d_miss) if d_recv + d_miss else 0.0
    miss_ok = t_miss_pct <= meta["stream_missing_bound_pct"]
    p99s = sorted(s["p99_us"] for s in judged if s["p99_us"] is not None)
    p99_med = p99s[len(p99s) // 2] if p99s else None
    p99_max = p99s[-1] if p99s else None
    warns = end["relay_warnings"]
    cpu = [r["relay_cpu_pct"] for r in run if r["relay_cpu_pct"] is not None]
    pcpu = [r["pub_cpu_pct"] for r in run if r["pub_cpu_pct"] is not None]
    scpu = [r["subs_cpu_pct"] for r in rows[1:] if r["subs_cpu_pct"] is not None]

    verdict = []
    verdict.append(("RSS growth over the second half (linear fit) < %d kB" % meta["rss_bound_kb"],
                    rss_ok, "%+.0f kB (slope %+.0f kB/h over %d samples)" % (growth, slope_h, len(half))))
    verdict.append(("open fds flat and back to baseline", fds_ok,
                    "baseline %s, during %s..%s, end %s" % (fmt(base["fds"]), fmt(min(fds_run) if fds_run else None),
                                                          fmt(max(fds_run) if fds_run else None), fmt(end["fds"]))))
    verdict.append(("every map back to its baseline after the last subscriber left (moq_upstreams: flat; "
                    "the LRU stream maps moq_down_streams / moq_up_streams: within capacity)", maps_ok,
                    ", ".join("%s %s->%s" % (m, fmt(b), fmt(e)) for m, b, lo, hi, e, ok in map_rows if not ok) or "all equal"))
    verdict.append(("relay has no subscriber session left", sess_back, "subscribers %s" % fmt(end["subscribers_live"])))
    verdict.append(("no subscriber error (integrity, connection, refused, crash, no objects)", nhard == 0,
                    ", ".join("%s %d" % kv for kv in sorted(hard.items())) or "none"))
    verdict.append(("subgroup-track objects missing after moq-sub's 2 s grace <= %.2f%%" % meta["stream_missing_bound_pct"],
                    miss_ok, "%d of %d (%.4f%%) in %d sessions" % (t_miss, t_recv + t_miss, t_miss_pct,
                                                                   classes.get("stream_missing", 0))))
    verdict.append(("relay exits cleanly on SIGTERM, no sanitizer report", meta["relay_exit"] == 0 and not meta["san"],
                    "exit status %d%s" % (meta["relay_exit"], ("; " + meta["san"].replace("\n", " / ")) if meta["san"] else "")))
    passed = all(ok for _, ok, _ in verdict)

    # ---- markdown
    L = []
    w = L.append
    w("# Soak: moq-relayd with the fast path, %d subscribers joining and leaving, %s%% loss"
      % (meta["subscribers"], meta["loss"]))
    w("")
    w("Written by `tests/soak/soak.sh` (see docs/soak.md). **Result: %s.**" % ("PASS" if passed else "FAIL"))
    w("")
    w("## Method")
    w("")
    w("- netns testbed (netns/testbed.sh, separate links): publisher, relay, %d subscriber hosts; "
      "the tc programs of build/tc-progs/relay.bpf.o attached in the relay namespace (upstream_ingress "
      "on r-pub, subscriber_egress + subscriber_ingress on every r-subN, private pin root), "
      "`moq-relayd --plaintext --fast-path on --log-level info --stats-interval 5`." % meta["hosts"])
    w("- %s%% random loss on every subscriber link in both directions (testbed `loss HOST %s` and "
      "`loss HOST %s --from`: tc-progs/testing/loss.bpf.o on the host's eth0 ingress and egress). No loss on "
      "the publisher link." % (meta["loss"], meta["loss"], meta["loss"]))
    w("- one `moq-pub`: track `test` at %d objects/s of %d bytes, %d objects per group, 2 subgroups "
      "per group (publisher priority 128/129)%s." % (meta["rate"], meta["object_size"], meta["opg"],
        (", and datagram track `dgram` at the same rate and size" if meta["datagram"] else "")))
    w("- %d seats (%d per subscriber host): each runs `moq-sub` for a random %d..%d s, then "
      "leaves (QUIC close) and joins again after 0..0.9 s, so about %d subscribers are always "
      "there and thousands of joins happen per hour. A session asks for stay x rate objects of "
      "each track (`--count`; moq-sub waits up to 2 s for holes among them), capped by "
      "`--duration stay+15`." % (meta["subscribers"], meta["subscribers"] // meta["hosts"],
                                 meta["min_stay"], meta["max_stay"], meta["subscribers"]))
    w("- every %d s one sample: relay VmRSS/VmHWM and open fds (/proc), relay CPU %% of one core "
      "since the last sample, sessions and live subscribers (`moq-relayctl status`), active slots "
      "(`moq_subscribers`), entries of every hash map that grows with subscribers (walking its keys: "
      "tests/soak/mapcount.c), the relay's cumulative fast-path counters (its `fastpath ...` stats line: kernel "
      "share, retransmits, lost, gate drops, resets, raw_bytes; departed subscribers included), "
      "joins, finished sessions, errors, lost datagrams, relay warn/error log lines." % meta["interval"])
    w("- at the end: every seat stops (SIGTERM to the running moq-sub), the relay gets up to 45 s "
      "to drop the sessions (a lost CONNECTION_CLOSE ends by idle timeout), 6 s more, a last sample.")
    w("- session errors: no JSON summary (crash/kill), integrity errors, exit 3 (connection failed "
      "or lost), 4 (SUBSCRIBE refused), any exit but 0/1, no object of `test`. 1%% loss is repaired "
      "by retransmission, so objects of the subgroup track missing after moq-sub's 2 s grace are "
      "counted separately and bounded (%.2f%%); datagrams are not retransmitted: their loss is only "
      "reported. Sessions stopped by the soak's end are judged on integrity and exit status only."
      % meta["stream_missing_bound_pct"])
    w("- memory flat: linear fit of RSS over the samples of the second half (after warm-up); "
      "slope x half the duration must stay below %d kB; fds back to the baseline; every map and "
      "the slot count back to their baseline (the sample before the first join)." % meta["rss_bound_kb"])
    w("")
    w("## Run")
    w("")
    w("| | |")
    w("|---|---|")
    for k, v in meta["facts"]:
        w("| %s | %s |" % (k, v))
    w("")
    w("Command:")
    w("")
    w("```")
    w(meta["command"])
    w("```")
    w("")
    w("## Verdict")
    w("")
    w("| check | ok | measured |")
    w("|---|---|---|")
    for name, ok, detail in verdict:
        w("| %s | %s | %s |" % (name, "yes" if ok else "**NO**", detail))
    w("")
    w("## Totals")
    w("")
    w("| | |")
    w("|---|---|")
    w("| samples | %d (every %d s) |" % (len(rows), meta["interval"]))
    w("| sessions finished (joins) | %d |" % len(sessions))
    w("| session classes | %s |" % ", ".join("%s %d" % kv for kv in sorted(classes.items())))
    w("| subgroup-track objects received / missing | %s / %s (%.4f%%) |" % (fmt(t_recv), fmt(t_miss), t_miss_pct))
    w("| datagram objects received / lost | %s / %s (%.2f%%) |" % (fmt(d_recv), fmt(d_miss), d_miss_pct))
    w("| per-session latency p99: median / max | %s / %s ms |" % (
        fmt(p99_med / 1000 if p99_med is not None else None, 1), fmt(p99_max / 1000 if p99_max is not None else None, 1)))
    w("| relay RSS: baseline / max / end | %s / %s / %s kB |" % (
        fmt(base["rss_kb"]), fmt(max(r["rss_kb"] for r in rows if r["rss_kb"] is not None)), fmt(end["rss_kb"])))
    w("| relay VmHWM at the end | %s kB |" % fmt(end["hwm_kb"]))
    w("| RSS slope, second half | %+.0f kB/h (growth over the half %+.0f kB) |" % (slope_h, growth))
    w("| relay CPU (one core = 100%%): mean / max | %s / %s %% |" % (
        fmt(sum(cpu) / len(cpu) if cpu else None, 1), fmt(max(cpu) if cpu else None, 1)))
    w("| fast path (cumulative) | kernel share %s%%, kernel %s / agent %s packets, retransmits %s, lost %s, gate drops %s, resets %s |" % (
        fmt(end["kernel_share_pct"], 2), fmt(end["kernel_pkts"]), fmt(end["agent_pkts"]), fmt(end["retransmits"]),
        fmt(end["lost"]), fmt(end["gate_drops"]), fmt(end["resets"])))
    w("| moq-pub CPU: mean | %s %% |" % fmt(sum(pcpu) / len(pcpu) if pcpu else None, 1))
    w("| all moq-sub processes CPU: mean | %s %% (of one core, counted when each exits) |"
      % fmt(sum(scpu) / len(scpu) if scpu else None, 1))
    loads = [r.get("load1") for r in run if r.get("load1") is not None]
    if loads:
        w("| VM load average (1 min): mean / max | %s / %s (2 vCPUs, shared) |" % (
            fmt(sum(loads) / len(loads), 1), fmt(max(loads), 1)))
    w("| relay log warn/error lines | %s |" % fmt(warns))
    w("")
    w("Map occupancy (entries; slots = active `moq_subscribers` entries):")
    w("")
    w("| map | capacity | baseline | min | max | end | back to baseline |")
    w("|---|---|---|---|---|---|---|")
    for m, b, lo, hi, e, ok in map_rows:
        w("| %s | %s | %s | %s | %s | %s | %s |" % (m, fmt(meta["capacity"].get(m)), fmt(b), fmt(lo), fmt(hi),
                                                  fmt(e), "yes" if ok else "**no**"))
    w("")
    if meta.get("warn_kinds"):
        w("Relay warn/error lines by kind (numbers shown as N):")
        w("")
        w("| lines | kind |")
        w("|---|---|")
        for n, kind in meta["warn_kinds"]:
            w("| %d | `%s` |" % (n, kind.replace("|", "\\|")))
        w("")
    findings = []
    for m, b, lo, hi, e, ok in map_rows:
        cap = meta["capacity"].get(m)
        if not ok and m == "moq_upstreams":
            findings.append("`moq_upstreams` changed while the publisher stayed connected (%s..%s, end %s)."
                            % (fmt(lo), fmt(hi), fmt(e)))
        elif m in LRU_STREAM_MAPS:
            if e is not None and b is not None and e > b:
                findings.append("`%s` holds %s entries after every subscriber left (baseline %s): finished "
                                "streams' entries stay until the LRU map evicts them (by design, "
                                "docs/fast-path.md)." % (m, fmt(e), fmt(b)))
        elif not ok:
            findings.append("`%s` holds %s entries after every subscriber left (baseline %s): entries of "
                            "departed subscribers or finished streams are not deleted." % (m, fmt(e), fmt(b)))
        if cap and hi is not None and hi >= 0.99 * cap:
            findings.append("`%s` reached its capacity (%s entries, max %s): from then on the kernel "
                            "evicts (LRU) or refuses entries." % (m, fmt(cap), fmt(hi)))
    if not rss_ok:
        findings.append("relay RSS still grows in the second half: %+.0f kB/h." % slope_h)
    if findings:
        w("## Findings (automatic)")
        w("")
        for f in findings:
            w("- " + f)
        w("")
    w("## Over time")
    w("")
    w("![RSS and map entries over time](%s)" % meta["png_name"])
    w("")
    if len(rows) <= 15:
        pick = rows
    else:
        pick, nxt = [], 0
        for r in rows[:-1]:
            if r["elapsed_s"] >= nxt:
                pick.append(r)
                nxt = (r["elapsed_s"] // 300 + 1) * 300
        pick.append(rows[-1])
    cols = [("min", lambda r: fmt(r["elapsed_s"] / 60, 1)), ("load", lambda r: fmt(r.get("load1"), 1)),
            ("VM busy %", lambda r: fmt(r.get("host_cpu_busy_pct"))), ("RSS kB", lambda r: fmt(r["rss_kb"])),
            ("HWM kB", lambda r: fmt(r["hwm_kb"])), ("fds", lambda r: fmt(r["fds"])),
            ("CPU %", lambda r: fmt(r["relay_cpu_pct"], 1)), ("subs CPU %", lambda r: fmt(r["subs_cpu_pct"], 1)), ("sessions", lambda r: fmt(r["sessions"])),
            ("slots", lambda r: fmt(r["moq_subscribers_active"])),
            ("subscriptions", lambda r: fmt(r["moq_subscriptions"])), ("sub_by_cid", lambda r: fmt(r["moq_sub_by_cid"])),
            ("down_streams", lambda r: fmt(r["moq_down_streams"])), ("up_streams", lambda r: fmt(r["moq_up_streams"])),
            ("tracks", lambda r: fmt(r["moq_tracks"])), ("upstreams", lambda r: fmt(r["moq_upstreams"])),
            ("kernel %", lambda r: fmt(r["kernel_share_pct"], 1)), ("retx", lambda r: fmt(r["retransmits"])),
            ("lost", lambda r: fmt(r["lost"])), ("gate drops", lambda r: fmt(r["gate_drops"])),
            ("resets", lambda r: fmt(r["resets"])), ("joins", lambda r: fmt(r["joins"])),
            ("errors", lambda r: fmt(r["errors"])), ("warn", lambda r: fmt(r["relay_warnings"]))]
    w("Samples (%s; the last row is after every subscriber left; all %d rows as CSV at the end):"
      % ("all" if pick is rows else "about every 5 min", len(rows)))
    w("")
    w("| " + " | ".join(c for c, _ in cols) + " |")
    w("|" + "---|" * len(cols))
    for r in pick:
        w("| " + " | ".join(f(r) for _, f in cols) + " |")
    w("")
    if meta.get("t0") and sessions and "t1" in sessions[0]:
        # sessions by the 5-minute window they ended in, next to the VM load
        win = {}
        for s in sessions:
            k = int((s["t1"] - meta["t0"]) // 300)
            d = win.setdefault(k, {"n": 0, "err": 0, "miss": 0, "p99": []})
            d["n"] += 1
            d["err"] += s["class"] != "ok"
            d["miss"] += s["class"] == "stream_missing"
            if s["p99_us"] is not None and not s["stopped"]:
                d["p99"].append(s["p99_us"])
        w("Sessions by the 5-minute window they ended in (load: mean 1-min load average of the samples in it):")
        w("")
        w("| window (min) | load | VM busy % | sessions | errors | of them stream_missing | median p99 ms |")
        w("|---|---|---|---|---|---|---|")
        for k in sorted(win):
            d = win[k]
            rs = [r for r in rows if k * 300 <= r["elapsed_s"] < (k + 1) * 300]
            ld = [r.get("load1") for r in rs if r.get("load1") is not None]
            bz = [r.get("host_cpu_busy_pct") for r in rs if r.get("host_cpu_busy_pct") is not None]
            p = sorted(d["p99"])
            w("| %d-%d | %s | %s | %d | %d | %d | %s |" % (
                k * 5, k * 5 + 5, fmt(sum(ld) / len(ld), 1) if ld else "-", fmt(sum(bz) / len(bz)) if bz else "-",
                d["n"], d["err"], d["miss"], fmt(p[len(p) // 2] / 1000, 1) if p else "-"))
        w("")
    bad = [s for s in sessions if s["class"] != "ok"]
    if bad:
        w("## Sessions with errors (first 15 of %d)" % len(bad))
        w("")
        w("| seat | join # | class | exit | stay s | test recv/missing | dgram recv/missing | stderr (end) |")
        w("|---|---|---|---|---|---|---|---|")
        for s in bad[:15]:
            e = (s.get("err") or "").replace("\n", " / ").replace("|", "\\|")[-160:]
            w("| %d | %d | %s | %d | %d | %d / %d | %d / %d | %s |" % (
                s["seat"], s["n"], s["class"], s["rc"], s["stay"], s["test_received"], s["test_missing"],
                s["dgram_received"], s["dgram_missing"], e))
        w("")
    w("<details><summary>all samples (CSV)</summary>")
    w("")
    w("```")
    w(open(csv_f).read().rstrip("\n"))
    w("```")
    w("")
    w("</details>")
    w("")
    open(out_f, "w").write("\n".join(L))

    # ---- gnuplot script (soak.sh runs it)
    c = {name: i + 1 for i, name in enumerate(meta["columns"])}
    gp = f"""set terminal pngcairo size 1100,620 font ',10'
set output '{meta["png"]}'
set datafile separator ','
set key top left box opaque
set title "moq-relayd soak: {meta['subscribers']} subscribers joining/leaving, {meta['loss']}% loss, {meta['rate']} obj/s"
set xlabel 'minutes'
set ylabel 'relay memory (MB)'
set y2label 'map entries (log scale)'
set ytics nomirror
set y2tics
set logscale y2
set y2range [1:*]
set yrange [0:*]
set grid
nz(x) = (x > 1 ? x : 1)
plot '{meta["plot_data"]}' using ($1/60):(${c['rss_kb']}/1024) with linespoints lw 2 pt 7 ps 0.5 title 'RSS', \\
     '' using ($1/60):(${c['hwm_kb']}/1024) with lines dt 2 title 'VmHWM', \\
     '' using ($1/60):(nz(${c['moq_down_streams']})) axes x1y2 with lines title 'moq\\_down\\_streams', \\
     '' using ($1/60):(nz(${c['moq_up_streams']})) axes x1y2 with lines title 'moq\\_up\\_streams', \\
     '' using ($1/60):(nz(${c['moq_sub_by_cid']})) axes x1y2 with lines title 'moq\\_sub\\_by\\_cid', \\
     '' using ($1/60):(nz(${c['moq_subscriptions']})) axes x1y2 with lines title 'moq\\_subscriptions', \\
     '' using ($1/60):(nz(${c['moq_subscribers_active']})) axes x1y2 with lines title 'active slots'
"""
    open(gp_f, "w").write(gp)
    for name, ok, detail in verdict:
        print("%s %s: %s" % ("ok  " if ok else "FAIL", name, detail))
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
