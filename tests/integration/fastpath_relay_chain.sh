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
# behind it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 3
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

OBJECTS=${FP_CHAIN_OBJECTS:-8000}
RATE=${FP_CHAIN_RATE:-1000}
fp_field() { grep -o "fastpath subs=.*" "$TMP/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | tr -d '%'; }

start_relay origin pub --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0 \
	--ctl-socket none
fp_relay edge --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 \
	--ctl-socket none --upstream "$PUB_IP4:4443"
wait_for 5 grep -q "session ready (upstream)" "$TMP/edge.log" ||
	{ tail "$TMP/edge.log" >&2; die "the edge did not connect to the origin"; }
start_pub chain-pub pub --plaintext --rate "$RATE" --object-size 500 --objects-per-group 50 \
	--track test 127.0.0.1:4443
wait_announce origin
pids=()
for i in 1 2 3; do
	v=RELAY_IP4_SUB_$i
	start_sub chain-s$i "sub$i" --plaintext --count "$OBJECTS" --connect-timeout 5 "${!v}:4443"
	pids+=("$SUB_PID")
done
for p in "${pids[@]}"; do wait_exit "$p" $((OBJECTS / RATE + 30)) "a subscriber"; done
for i in 1 2 3; do
	expect_intact chain-s$i
	grep -q '"exit_code":0' "$TMP/chain-s$i.json" || die "chain-s$i: exit code not 0"
	[ "$(jget "$TMP/chain-s$i.json" .objects_received)" -ge "$OBJECTS" ] ||
		die "chain-s$i: fewer than $OBJECTS objects"
done
sleep 1.2 # one more stats line
kp=$(fp_field edge kernel_pkts)
ap=$(fp_field edge agent_pkts)
share=$(fp_field edge kernel_share)
fwd=$(fp_stat 1 0)
grep -o "fastpath subs=.*" "$TMP/edge.log" | tail -1
log "edge: kernel forwarded $kp packets, agent $ap (kernel share $share%); egress FORWARDED $fwd"
[ "${kp:-0}" -gt 0 ] || die "the edge's kernel forwarded nothing"
python3 -c "import sys; sys.exit(0 if float('$share') >= 99.0 else 1)" || die "kernel share $share% < 99%"
[ "$fwd" -ge "$kp" ] || die "egress FORWARDED counter $fwd < the agent's kernel packets $kp"
! grep -E "closed \(code 0x[1-9a-f]|PROTOCOL_VIOLATION|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" \
	"$TMP/edge.log" "$TMP/origin.log" || die "a connection was closed with an error"
# the edge registered its connection to the origin: MOQ_UP_F_PEER_SERVER
# (the origin's media streams are server-initiated), the origin's address
# as the source, and its own client port in moq_config.up_port_be
want=$(printf '%02x' ${PUB_IP4//./ })
n=0
while read -r v; do
	[ $((0x${v:18:2} & 2)) = 2 ] && [ "${v:32:8}" = "$want" ] && n=$((n + 1))
done < <(bpftool -j map dump pinned "$FP_PIN/moq_upstreams" | jq -r '.[].value | map(ltrimstr("0x")) | join("")')
[ "$n" -gt 0 ] || die "no moq_upstreams entry for the origin connection with MOQ_UP_F_PEER_SERVER"
cfg=$(bpftool -j map lookup pinned "$FP_PIN/moq_config" key 0 0 0 0 | jq -r '.value | map(ltrimstr("0x")) | join("")')
upport=$((0x${cfg:60:4}))
on relay ss -uanp | grep -q ":$upport .*moq-relayd" ||
	die "moq_config.up_port_be $upport is not a UDP port of the edge"
log "edge: $n CIDs of its origin connection registered; up_port $upport"
log "PASS fastpath_relay_chain: origin -> edge -> 3 subscribers byte-exact, $share% in the edge's kernel"
