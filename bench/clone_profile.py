#!/usr/bin/env python3
"""bench/clone_profile.py - where a fast-path clone's kernel time goes
(issue 18): the samples of `perf record -a -g` below moq_fanout_one (the
fan-out's bpf_loop callback: one clone each), split by what they were in.

    perf record -a -g -F 1999 -o P.data -- env RES_COUNTS=1000 RES_MODES=on \
        B=build bench/residence.sh
    perf script -i P.data -F comm,ip,sym | bench/clone_profile.py [TAG]

Without TAG: the relays seen (upstream program tag, egress program tag:
other relays on a shared VM run the same callback) and their sample
counts. With TAG (bpf_prog_TAG_moq_upstream_ingress): that relay's split.
Category = the leaf-most marker frame of the chain below moq_fanout_one;
any sample in the residence bench's stamp program (tst_egress, or the hash
update the stamp program of builds before branch clone2 made: the JIT's
frame can be missing from a chain, the helper's is not) counts as the
stamp's. Since clone2 the stamp appends to an array ring (no helper of its
own) and the relay's egress program updates a hash map only at a stream's
first packet (moq_down_streams): such a sample is filed as the stamp's
too, a small overcount (1 packet in 50 at the residence bench's load)."""
import collections
import re
import sys

MARK = [  # (category, regex) - leaf-most match wins
    ("egress: head copy (pskb_expand_head)", r"pskb_expand_head"),
    ("egress: rewrite helpers", r"bpf_skb_(load|store)_bytes|bpf_l4_csum_replace|bpf_csum_diff"),
    ("egress: map lookups", r"htab_map_lookup|__htab_map_lookup|lookup_nulls_elem_raw|array_map|percpu"),
    ("egress: ktime (sent log)", r"ktime_get|read_tsc|pvclock"),
    ("egress: program + other helpers", r"moq_subscriber_egress|moq_rw_field|moq_rw_zero"),
    ("stamp program (tst_egress)", r"tst_egress"),
    ("tc classify overhead", r"tcf_classify|tc_run|cls_bpf_classify"),
    ("veth xmit + peer enqueue", r"veth_xmit|netif_rx|enqueue_to_backlog|dev_hard_start_xmit"),
    ("dev_queue_xmit other", r"__dev_queue_xmit|validate_xmit|netif_skb_features"),
    ("skb_clone", r"skb_clone"),
    ("bpf_check_mtu", r"check_mtu|dev_get_by_index"),
    ("fan-out callback + subscriber lookup", r"moq_fanout_one"),
]
TAG = sys.argv[1] if len(sys.argv) > 1 else ""
cnt = collections.Counter()
total = 0
chain = []
def flush():
    global total
    if not chain:
        return
    idx = next((i for i, f in enumerate(chain) if "moq_fanout_one" in f), None)
    if idx is None:
        return
    relays[relay_of(chain)] += 1
    # only the relay whose upstream program has this tag (other relays on
    # the shared VM run the same fan-out callback)
    if TAG and not any(TAG in f for f in chain):
        return
    total += 1
    below = chain[: idx + 1]  # leaf .. fanout_one
    # the stamp program (before clone2 a hash update per copy; the JIT's frames may be
    # missing from a chain, its helper's are not)
    if any(re.search(r"tst_egress|htab_map_update_elem", f) for f in below):
        cnt["stamp program (tst_egress)"] += 1
        return
    for f in below:
        for cat, rx in MARK:
            if re.search(rx, f):
                # stamp program's own lookups count as stamp
                ctx = next((g for g in below[below.index(f):] if "tst_egress" in g or "moq_subscriber_egress" in g), "")
                if "tst_egress" in ctx:
                    cnt["stamp program (tst_egress)"] += 1
                else:
                    cnt[cat] += 1
                return
    cnt["other"] += 1
relays = collections.Counter()


def relay_of(ch):
    up = [f[9:17] for f in ch if re.search("upstream_ingress|relay_ingress", f)]
    eg = [f[9:17] for f in ch if "subscriber_egress" in f]
    return (up[0] if up else "-", eg[0] if eg else "-")


for line in sys.stdin:
    if not line.strip():
        flush(); chain = []; continue
    if line.startswith((" ", "\t")):
        parts = line.split()
        if len(parts) >= 2:
            chain.append(parts[1])
flush()
if not TAG:
    print("samples under moq_fanout_one per relay (upstream tag, egress tag; '-': frame not in the chain):")
    for k, n in relays.most_common():
        print(f"{n:7d}  {k[0]} {k[1]}")
    sys.exit(0)
print(f"samples under moq_fanout_one: {total}")
for cat, n in cnt.most_common():
    print(f"{100.0 * n / total:5.1f} %  {cat}")
