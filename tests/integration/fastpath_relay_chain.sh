#!/usr/bin/env bash
# A relay chain through the edge's fast path (issue 18, relay chains):
# publisher -> origin relay (the publisher's namespace, userspace) -> edge
# relay (the relay namespace, --fast-path on, --upstream to the origin) ->
# 3 subscribers, all --plaintext. The origin's packets reach the edge on
# its upstream client connection (its own local port, not the listen
# port): the edge's upstream ingress program clones them to the
# subscribers. Every subscriber byte-exact, no connection closed with an
# error, and >= 99 % of the media packets to the subscribers forwarded by
# the kernel (the edge's stats line), with the kernel's FORWARDED counter
# behind it. FP_TOPOLOGY=shared (fastpath_relay_chain_shared.sh): one edge
# interface for both roles.
# Round 2 (separate links only): a tree of two fast paths: the origin runs
# --fast-path on too (its one interface eth0: tc/relay_ingress +
# tc/subscriber_egress, pins of its own) with the publisher on host sub4
# (routed through the relay namespace), so the edge's kernel clones what
# the origin's kernel cloned to it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
if [ "${FP_TOPOLOGY:-separate}" = shared ]; then
	testbed_up 3 --shared-link # one edge interface: tc/relay_ingress + tc/subscriber_egress
else
	testbed_up 4 # sub4: round 2's publisher
fi
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

OBJECTS=${FP_CHAIN_OBJECTS:-10000}
RATE=${FP_CHAIN_RATE:-1000}
case "$B" in
*san*) # sanitizer build: every process ~3x slower on 2 vCPUs
	OBJECTS=${FP_CHAIN_OBJECTS:-8000} RATE=${FP_CHAIN_RATE:-400} ;;
esac
fp_field() { grep -o "fastpath subs=.*" "$TMP/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | tr -d '%'; }

# the edge's non-zero kernel counters by program and reason name (printed
# when a check fails, to tell why packets went the agent's way)
edge_reasons() {
	bpftool -j map dump pinned "$FP_PIN/moq_stats" | python3 -c '
import json, sys
names = sys.argv[1].split()
progs = ["upstream_ingress", "subscriber_egress", "subscriber_ingress"]
for e in json.load(sys.stdin):
    k = e["key"]
    k = int.from_bytes(bytes(int(x, 16) for x in k), "little") if isinstance(k, list) else int(k)
    tot = 0
    for v in e.get("values", []):
        b = bytes(int(x, 16) for x in v["value"]) if isinstance(v["value"], list) else None
        tot += int.from_bytes(b[:8], "little") if b else int(v["value"]["packets"])
    if tot:
        print("  %s.%s %d" % (progs[k // len(names)], names[k % len(names)], tot))' "$FP_REASONS" >&2
}

# the origin's own fast path (round 2): its programs on the pub host's one
# interface, pinned under a root of their own
ORIGIN_MNT=/sys/fs/bpf/moq-fp-$TB_PREFIX-origin
ORIGIN_PIN=$ORIGIN_MNT/tc/globals
at_exit "rm -rf '$ORIGIN_MNT'"
_origin_tc() { TC_BPF_MNT=$ORIGIN_MNT nsenter --net="/run/netns/$PUB_NS" tc "$@"; }

# NAME ORIGIN_MODE(user|fast) PUB_HOST PUB_TARGET
round() {
	local name=$1 mode=$2 phost=$3 ptarget=$4 oargs=() pids=() i v
	if [ "$mode" = fast ]; then
		mkdir -p "$ORIGIN_MNT"
		_origin_tc qdisc add dev "$PUB_IF" clsact
		_origin_tc filter add dev "$PUB_IF" ingress bpf da obj "$FP_OBJ" sec tc/relay_ingress
		_origin_tc filter add dev "$PUB_IF" egress bpf da obj "$FP_OBJ" sec tc/subscriber_egress
		oargs=(--fast-path on --bpf-pin-dir "$ORIGIN_PIN" --stats-interval 1)
	else
		oargs=(--stats-interval 0)
	fi
	start_relay "$name-origin" pub --listen 0.0.0.0:4443 --plaintext --log-level info \
		--ctl-socket none "${oargs[@]}"
	local ORIGIN=$RELAY_PID
	fp_relay "$name-edge" --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 \
		--ctl-socket none --upstream "$PUB_IP4:4443"
	local EDGE=$RELAY_PID
	wait_for 5 grep -q "session ready (upstream)" "$TMP/$name-edge.log" ||
		{ tail "$TMP/$name-edge.log" >&2; die "$name: the edge did not connect to the origin"; }
	start_pub "$name-pub" "$phost" --plaintext --rate "$RATE" --object-size 500 \
		--objects-per-group 25 --track test "$ptarget:4443"
	local PUBP=$PUB_PID
	wait_announce "$name-origin"
	for i in 1 2 3; do
		v=RELAY_IP4_SUB_$i
		start_sub "$name-s$i" "sub$i" --plaintext --count "$OBJECTS" --connect-timeout 5 "${!v}:4443"
		pids+=("$SUB_PID")
	done
	for p in "${pids[@]}"; do wait_exit "$p" $((OBJECTS / RATE + 30)) "$name: a subscriber"; done
	for i in 1 2 3; do
		expect_intact "$name-s$i"
		grep -q '"exit_code":0' "$TMP/$name-s$i.json" || die "$name-s$i: exit code not 0"
		[ "$(jget "$TMP/$name-s$i.json" .objects_received)" -ge "$OBJECTS" ] ||
			die "$name-s$i: fewer than $OBJECTS objects"
	done
	fp_next_stats "$name-edge"
	[ "$mode" != fast ] || fp_next_stats "$name-origin"
	local kp ap share fwd
	kp=$(fp_field "$name-edge" kernel_pkts)
	ap=$(fp_field "$name-edge" agent_pkts)
	share=$(fp_field "$name-edge" kernel_share)
	fwd=$(fp_stat 1 0)
	grep -o "fastpath subs=.*" "$TMP/$name-edge.log" | tail -1
	log "$name: edge kernel forwarded $kp packets, agent $ap (kernel share $share%); egress FORWARDED $fwd"
	[ "${kp:-0}" -gt 0 ] || die "$name: the edge's kernel forwarded nothing"
	python3 -c "import sys; sys.exit(0 if float('$share') >= 99.0 else 1)" ||
		{ edge_reasons; die "$name: edge kernel share $share% < 99%"; }
	[ "$fwd" -ge "$kp" ] || die "$name: egress FORWARDED counter $fwd < the agent's kernel packets $kp"
	if [ "$mode" = fast ]; then
		local oshare
		oshare=$(fp_field "$name-origin" kernel_share)
		grep -o "fastpath subs=.*" "$TMP/$name-origin.log" | tail -1
		log "$name: origin kernel share $oshare%"
		python3 -c "import sys; sys.exit(0 if float('${oshare:-0}') >= 99.0 else 1)" ||
			die "$name: origin kernel share ${oshare:-?}% < 99%"
	fi
	! grep -E "closed \(code 0x[1-9a-f]|PROTOCOL_VIOLATION|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" \
		"$TMP/$name-edge.log" "$TMP/$name-origin.log" || die "$name: a connection was closed with an error"
	# the edge registered its connection to the origin: MOQ_UP_F_PEER_SERVER
	# (the origin's media streams are server-initiated), the origin's
	# address as the source, and its own client port in moq_config.up_port_be
	local want n=0 cfg upport
	want=$(printf '%02x' ${PUB_IP4//./ })
	while read -r v; do
		[ $((0x${v:18:2} & 2)) = 2 ] && [ "${v:32:8}" = "$want" ] && n=$((n + 1))
	done < <(bpftool -j map dump pinned "$FP_PIN/moq_upstreams" | jq -r '.[].value | map(ltrimstr("0x")) | join("")')
	[ "$n" -gt 0 ] || die "$name: no moq_upstreams entry for the origin connection with MOQ_UP_F_PEER_SERVER"
	cfg=$(bpftool -j map lookup pinned "$FP_PIN/moq_config" key 0 0 0 0 | jq -r '.value | map(ltrimstr("0x")) | join("")')
	upport=$((0x${cfg:60:4}))
	on relay ss -uanp | grep -q ":$upport .*moq-relayd" ||
		die "$name: moq_config.up_port_be $upport is not a UDP port of the edge"
	log "$name: $n CIDs of the edge's origin connection registered; up_port $upport"
	stop "$PUBP"
	stop "$EDGE"
	stop "$ORIGIN"
	log "$name ok: origin ($mode) -> edge -> 3 subscribers byte-exact, $share% in the edge's kernel"
}

round user user pub 127.0.0.1
if [ "${FP_TOPOLOGY:-separate}" != shared ]; then
	round tree fast sub4 "$PUB_IP4"
fi
log "PASS fastpath_relay_chain"
