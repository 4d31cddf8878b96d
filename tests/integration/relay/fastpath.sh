# tests/integration/relay/fastpath.sh - attach the fast path in the testbed's
# relay namespace with a private pin root. Source after lib.sh and
# relay/common.sh and testbed_up:
#
#   fp_attach            clsact + tc/upstream_ingress on r-pub and
#                        tc/subscriber_egress + tc/subscriber_ingress on every
#                        r-subN (separate links), or tc/relay_ingress +
#                        tc/subscriber_egress on the relay's one interface
#                        (--shared-link); maps pinned under $FP_PIN
#                        (TC_BPF_MNT, never the global /sys/fs/bpf/tc/globals)
#   fp_relay NAME ARGS   start_relay with --fast-path on --bpf-pin-dir $FP_PIN
#   fp_stat PROG REASON  packets counted in moq_stats (summed over CPUs)
#   fp_sub_tx SLOT       packets the egress program forwarded to slot

FP_OBJ=$ROOT/$B/tc-progs/relay.bpf.o
FP_MNT=/sys/fs/bpf/moq-fp-$TB_PREFIX
FP_PIN=$FP_MNT/tc/globals
at_exit "rm -rf '$FP_MNT'"

_fp_tc() { TC_BPF_MNT=$FP_MNT nsenter --net="/run/netns/$RELAY_NS" tc "$@"; }

fp_attach() {
	local i ifv
	[ -f "$FP_OBJ" ] || die "missing $FP_OBJ (make all)"
	mkdir -p "$FP_MNT"
	if [ "$TESTBED_MODE" = shared ]; then
		_fp_tc qdisc add dev "$RELAY_IF_PUB" clsact
		_fp_tc filter add dev "$RELAY_IF_PUB" ingress bpf da obj "$FP_OBJ" sec tc/relay_ingress
		_fp_tc filter add dev "$RELAY_IF_PUB" egress bpf da obj "$FP_OBJ" sec tc/subscriber_egress
	else
		_fp_tc qdisc add dev "$RELAY_IF_PUB" clsact
		_fp_tc filter add dev "$RELAY_IF_PUB" ingress bpf da obj "$FP_OBJ" sec tc/upstream_ingress
		for i in $(seq 1 "$SUBSCRIBERS"); do
			ifv=RELAY_IF_SUB_$i
			_fp_tc qdisc add dev "${!ifv}" clsact
			_fp_tc filter add dev "${!ifv}" egress bpf da obj "$FP_OBJ" sec tc/subscriber_egress
			_fp_tc filter add dev "${!ifv}" ingress bpf da obj "$FP_OBJ" sec tc/subscriber_ingress
		done
	fi
	[ -e "$FP_PIN/moq_config" ] || die "fast path maps not pinned under $FP_PIN"
}

# Waits for the next "fastpath subs=" stats line of each relay log NAME
# (--stats-interval 1): a line printed from now on counts all that came
# before (instead of sleeping 1.2 s for "one more stats line").
_fp_stats_lines() { grep -c "fastpath subs=" "$TMP/$1.log" || true; }
_fp_more_stats() { [ "$(_fp_stats_lines "$1")" -gt "$2" ]; }
fp_next_stats() {
	local name n
	for name in "$@"; do
		n=$(_fp_stats_lines "$name")
		wait_for 5 _fp_more_stats "$name" "$n" || die "$name: no stats line within 5 s"
	done
}

fp_relay() {
	local name=$1
	shift
	start_relay "$name" relay --fast-path on --bpf-pin-dir "$FP_PIN" "$@"
}

# sum of a PERCPU value's u64 field at byte offset OFF of key KEY in map MAP
_fp_percpu_u64() { # MAP KEY OFF
	bpftool -j map lookup pinned "$FP_PIN/$1" key $(printf '%d %d %d %d' $(($2 & 255)) $((($2 >> 8) & 255)) $((($2 >> 16) & 255)) $((($2 >> 24) & 255))) 2>/dev/null |
		python3 -c '
import json, sys
off = int(sys.argv[1]); tot = 0
d = json.load(sys.stdin)
for v in d.get("values", []):
    b = bytes(int(x, 16) for x in v["value"])
    tot += int.from_bytes(b[off:off + 8], "little")
print(tot)' "$3"
}

fp_stat() { # PROG REASON -> packets
	_fp_percpu_u64 moq_stats $(($1 * FP_R_MAX + $2)) 0
}

fp_sub_tx() { _fp_percpu_u64 moq_sub_stats "$1" 16; }   # tx_packets
# tx_packets summed over every slot except $1 (one consistent dump)
fp_tx_others() {
	bpftool -j map dump pinned "$FP_PIN/moq_sub_stats" | python3 -c '
import json, sys
skip = int(sys.argv[1]); tot = 0
for e in json.load(sys.stdin):
    k = e.get("key")
    k = int.from_bytes(bytes(int(x, 16) for x in k), "little") if isinstance(k, list) else int(k)
    if k == skip:
        continue
    for v in e.get("values", []):
        b = bytes(int(x, 16) for x in v["value"]) if isinstance(v["value"], list) else None
        if b is None:
            tot += int(v["value"].get("tx_packets", 0)); continue
        tot += int.from_bytes(b[16:24], "little")
print(tot)' "$1"
}
fp_sub_drop() { _fp_percpu_u64 moq_sub_stats "$1" 32; } # drop_packets

# FP_REASONS, FP_R_MAX, fp_reason_index NAME
. "$(dirname "${BASH_SOURCE[0]}")/reasons.sh"
