#!/usr/bin/env bash
# Live fast-path test: publisher, relay and 4 subscriber namespaces joined by
# veth pairs; tc-progs/relay.bpf.o attached with tc on the relay; maps filled
# with bpftool; raw UDP fixture packets (plaintext-profile QUIC 1-RTT) from
# the publisher must reach every subscriber rewritten (addresses, ports,
# DCID, consecutive packet numbers, stream id, track alias, ACK -> PADDING)
# with checksums the receivers' stacks accept (tx offload off everywhere,
# UdpInCsumErrors must stay 0). The relay's own socket must still get every
# original (TC_ACT_OK). Prints verified_insns of the attached programs.
# FASTPATH_TOPOLOGY=shared (fastpath_shared_live.sh): publisher, relay and
# subscribers on one bridge, the relay with one interface running
# tc/relay_ingress + tc/subscriber_egress.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${B:-build}
OBJ=$PWD/$B/tc-progs/relay.bpf.o
PY=$PWD/tests/integration/fastpath_live.py
[ -f "$OBJ" ] || { echo "missing $OBJ: run make first"; exit 1; }
for t in ip tc bpftool ethtool nsenter python3; do
	command -v $t >/dev/null || { echo "missing tool $t"; exit 1; }
done
# MNT below lives on /sys/fs/bpf: mount a bpffs there when none is
. netns/bpffs.sh
moq_ensure_bpffs /sys/fs/bpf || exit 1

TOPO=${FASTPATH_TOPOLOGY:-separate}    # separate | shared
P=fp$$                                  # unique prefix
NS_PUB=${P}pub NS_RELAY=${P}relay NS_SW=${P}sw
SUBS="1 2 3 4"
MNT=/sys/fs/bpf/moq-$P                  # private tc bpffs root (TC_BPF_MNT)
PIN=$MNT/tc/globals
WORK=$(mktemp -d /tmp/moq-$P.XXXXXX)
pids=()

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS_PUB" 2>/dev/null
	ip netns del "$NS_RELAY" 2>/dev/null
	ip netns del "$NS_SW" 2>/dev/null
	for i in $SUBS; do ip netns del "${P}s$i" 2>/dev/null; done
	rm -rf "$MNT" "$WORK"
}
trap cleanup EXIT

inns() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" "$@"; }
# the relay's address as subscriber $1 sees it
relay_ip() { if [ "$TOPO" = separate ]; then echo "10.77.$1.1"; else echo 10.77.0.254; fi; }
# tc must see the real bpffs (NOTES.md: not `ip netns exec`), in our own pin root
rtc() { TC_BPF_MNT=$MNT nsenter --net=/run/netns/"$NS_RELAY" tc "$@"; }

mkdir -p "$MNT"
ip netns add "$NS_PUB"
ip netns add "$NS_RELAY"
ip -n "$NS_RELAY" link set lo up
for i in $SUBS; do
	ip netns add "${P}s$i"
	ip -n "${P}s$i" link set lo up
done

# veth NAME_A in NS_A <-> NAME_B in NS_B, both up, tx checksum offload off
vpair() {
	ip link add "$1" type veth peer name "$3"
	ip link set "$1" netns "$2"
	ip link set "$3" netns "$4"
	ip -n "$2" link set "$1" up
	ip -n "$4" link set "$3" up
	inns "$2" ethtool -K "$1" tx off >/dev/null
	inns "$4" ethtool -K "$3" tx off >/dev/null
}

state='{"pub_ip": "10.77.0.1", "subs": ['
sep=
if [ "$TOPO" = separate ]; then
	# relay: one interface towards the publisher, one per subscriber
	vpair "${P}p" "$NS_PUB" "${P}rp" "$NS_RELAY"
	ip -n "$NS_PUB" addr add 10.77.0.1/24 dev "${P}p"
	ip -n "$NS_RELAY" addr add 10.77.0.254/24 dev "${P}rp"
	for i in $SUBS; do
		vpair "${P}s$i" "${P}s$i" "${P}r$i" "$NS_RELAY"
		ip -n "${P}s$i" addr add 10.77.$i.2/24 dev "${P}s$i"
		ip -n "$NS_RELAY" addr add 10.77.$i.1/24 dev "${P}r$i"
		ifindex=$(ip -n "$NS_RELAY" -o link show dev "${P}r$i" | cut -d: -f1)
		state+="$sep{\"slot\": $((i + 10)), \"ifindex\": $ifindex, \"ip\": \"10.77.$i.2\", \"port\": $((6000 + i)), \"relay_ip\": \"10.77.$i.1\", \"pn0\": $((i * 4294967296 - 6))}"
		sep=,
	done
	# attach: publisher-facing ingress; subscriber-facing egress + ingress
	rtc qdisc add dev "${P}rp" clsact
	rtc filter add dev "${P}rp" ingress bpf da obj "$OBJ" sec tc/upstream_ingress
	for i in $SUBS; do
		rtc qdisc add dev "${P}r$i" clsact
		rtc filter add dev "${P}r$i" egress bpf da obj "$OBJ" sec tc/subscriber_egress
		rtc filter add dev "${P}r$i" ingress bpf da obj "$OBJ" sec tc/subscriber_ingress
	done
	attached=("${P}rp ingress" "${P}r1 egress" "${P}r1 ingress")
else
	# one relay interface on a bridge shared with publisher and subscribers
	ip netns add "$NS_SW"
	ip -n "$NS_SW" link add "${P}br" type bridge
	ip -n "$NS_SW" link set "${P}br" up
	vpair "${P}rp" "$NS_RELAY" "${P}xr" "$NS_SW"
	vpair "${P}p" "$NS_PUB" "${P}xp" "$NS_SW"
	ip -n "$NS_SW" link set "${P}xr" master "${P}br"
	ip -n "$NS_SW" link set "${P}xp" master "${P}br"
	ip -n "$NS_PUB" addr add 10.77.0.1/16 dev "${P}p"
	ip -n "$NS_RELAY" addr add 10.77.0.254/16 dev "${P}rp"
	ifindex=$(ip -n "$NS_RELAY" -o link show dev "${P}rp" | cut -d: -f1)
	for i in $SUBS; do
		vpair "${P}s$i" "${P}s$i" "${P}x$i" "$NS_SW"
		ip -n "$NS_SW" link set "${P}x$i" master "${P}br"
		ip -n "${P}s$i" addr add 10.77.$i.2/16 dev "${P}s$i"
		state+="$sep{\"slot\": $((i + 10)), \"ifindex\": $ifindex, \"ip\": \"10.77.$i.2\", \"port\": $((6000 + i)), \"relay_ip\": \"10.77.0.254\", \"pn0\": $((i * 4294967296 - 6))}"
		sep=,
	done
	rtc qdisc add dev "${P}rp" clsact
	rtc filter add dev "${P}rp" ingress bpf da obj "$OBJ" sec tc/relay_ingress
	rtc filter add dev "${P}rp" egress bpf da obj "$OBJ" sec tc/subscriber_egress
	attached=("${P}rp ingress" "${P}rp egress")
fi
state+=']}'
echo "$state" >"$WORK/state.json"

rtc filter show dev "${P}rp" ingress
rtc filter show dev "${P}rp" egress
ls "$PIN"
for m in moq_config moq_upstreams moq_tracks moq_subscribers moq_conn_seq moq_events; do
	[ -e "$PIN/$m" ] || { echo "map $m not pinned under $PIN"; exit 1; }
done

echo "verified_insns of the attached programs:"
ids=()
for spec in "${attached[@]}"; do
	set -- $spec
	ids+=("$(rtc filter show dev "$1" "$2" | sed -n 's/.* id \([0-9]*\).*/\1/p' | sed -n 1p)")
done
python3 "$PY" insns "${ids[@]}"

dump_stats() {
echo "stats (prog*MOQ_R_MAX+reason: packets summed over CPUs):"
bpftool -j map dump pinned "$PIN/moq_stats" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    k = int.from_bytes(bytes(int(x, 16) for x in e["key"]), "little") if isinstance(e["key"], list) else e["key"]
    tot = 0
    for v in e["values"]:
        b = bytes(int(x, 16) for x in v["value"]) if isinstance(v["value"], list) else None
        tot += int.from_bytes(b[:8], "little") if b else v["value"]["packets"]
    if tot:
        print("  key %d: %d" % (k, tot))
'
}

python3 "$PY" maps "$PIN" "$WORK/state.json"

# L2 learning: each subscriber sends one packet to its relay CID
for i in $SUBS; do
	inns "${P}s$i" python3 "$PY" ping 10.77.$i.2 $((6000 + i)) "$(relay_ip "$i")" $((i + 10))
done
sleep 0.3
for i in $SUBS; do
	# BTF-formatted lookup: "flags": N (MOQ_SUB_F_L2_LEARNED = 2)
	flags=$(bpftool map lookup pinned "$PIN/moq_subscribers" key $((i + 10)) 0 0 0 |
		sed -n 's/.*"flags": *\([0-9]*\).*/\1/p')
	[ -n "$flags" ] && [ $((flags & 2)) -ne 0 ] ||
		{ echo "slot $((i + 10)): MAC not learned (flags '$flags')"; dump_stats; exit 1; }
done
echo "subscriber MACs learned"

n=$(python3 "$PY" count)
for i in $SUBS; do
	inns "${P}s$i" python3 "$PY" recv 10.77.$i.2 $((6000 + i)) "$WORK/sub$i.out" "$n" &
	pids+=($!)
done
inns "$NS_RELAY" python3 "$PY" recv 10.77.0.254 4443 "$WORK/relay.out" "$n" &
pids+=($!)
for f in $SUBS relay; do
	[ "$f" = relay ] && out=$WORK/relay.out || out=$WORK/sub$f.out
	for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
done

inns "$NS_PUB" python3 "$PY" send 10.77.0.254
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()

rc=0
args=()
for i in $SUBS; do args+=("$WORK/sub$i.out" $((i + 10))); done
python3 "$PY" check "$WORK/state.json" "${args[@]}" || rc=1
for i in $SUBS; do
	errs=$(inns "${P}s$i" cat /proc/net/snmp | awk '/^Udp:/ { if (h) print $7; h = 1 }')
	echo "sub$i UdpInCsumErrors=$errs"
	[ "$errs" = 0 ] || rc=1
done
python3 "$PY" originals "$WORK/relay.out" || rc=1

dump_stats
[ $rc = 0 ] && echo "fastpath_live: PASS" || echo "fastpath_live: FAIL"
exit $rc
