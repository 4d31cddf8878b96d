#!/usr/bin/env bash
# A TLS relay chain through the edge's encrypted fast path (issue 19):
# publisher -> origin relay (the publisher's namespace, TLS, userspace) ->
# edge relay (the relay namespace, TLS, --fast-path on, --upstream to the
# origin) -> 3 TLS subscribers; no --plaintext anywhere. The edge's own
# client connection to the origin is protected by ngtcp2 (not the layer):
# its rx keys of both phases go to the kernel from the layer's key capture
# and its moq_upstreams entries carry MOQ_UP_F_TLS | MOQ_UP_F_PEER_SERVER,
# so the edge's kernel opens the origin's packets and seals the clones.
# Every subscriber byte-exact, >= 99 % of their media packets sealed in the
# edge's kernel, no aead_open_failed, no connection closed with an error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 3
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

OBJECTS=${FPT_CHAIN_OBJECTS:-4000}
RATE=${FPT_CHAIN_RATE:-500}
fp_field() { grep -o "fastpath subs=.*" "$TMP/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | tr -d '%'; }
R_OPEN_FAILED=$(fp_reason_index aead_open_failed)

start_relay origin pub --listen 0.0.0.0:4443 --dev-cert "$TMP/oc" --log-level info \
	--stats-interval 0 --ctl-socket none
fp_relay edge --listen 0.0.0.0:4443 --dev-cert "$TMP/ec" --log-level info --stats-interval 1 \
	--ctl-socket none --upstream "$PUB_IP4:4443" --upstream-insecure
wait_for 5 grep -q "session ready (upstream)" "$TMP/edge.log" ||
	{ tail "$TMP/edge.log" >&2; die "the edge did not connect to the origin"; }
start_pub pub pub --cert-hash "$(cat "$TMP/oc/cert.sha256")" --rate "$RATE" --object-size 1000 \
	--objects-per-group 25 --track test 127.0.0.1:4443
wait_announce origin
pids=()
for i in 1 2 3; do
	v=RELAY_IP4_SUB_$i
	start_sub "s$i" "sub$i" --cert-hash "$(cat "$TMP/ec/cert.sha256")" --count "$OBJECTS" \
		--connect-timeout 10 "${!v}:4443"
	pids+=("$SUB_PID")
done
for p in "${pids[@]}"; do wait_exit "$p" $((OBJECTS / RATE + 40)) "a subscriber"; done
for i in 1 2 3; do
	expect_intact "s$i"
	grep -q '"exit_code":0' "$TMP/s$i.json" || die "s$i: exit code not 0"
	[ "$(jget "$TMP/s$i.json" .objects_received)" -ge "$OBJECTS" ] || die "s$i: fewer than $OBJECTS objects"
done
sleep 1.2 # one more stats line
grep -o "fastpath subs=.*" "$TMP/edge.log" | tail -1
kp=$(fp_field edge kernel_pkts)
share=$(fp_field edge kernel_share)
up=$(fp_stat 0 0)
fwd=$(fp_stat 1 0)
bad=$(fp_stat 0 "$R_OPEN_FAILED")
log "edge: origin packets opened in the kernel $up, clones sealed $fwd, aead_open_failed $bad; agent's kernel packets $kp (share $share %)"
[ "$up" -gt 0 ] || die "the edge's kernel opened no packet of the origin"
[ "$bad" = 0 ] || die "$bad of the origin's packets failed to open"
python3 -c "import sys; sys.exit(0 if float('$share') >= 99.0 else 1)" || die "edge kernel share $share% < 99%"
[ "$fwd" -ge "$kp" ] || die "egress FORWARDED $fwd < the agent's kernel packets $kp"
! grep -E "closed \(code 0x[1-9a-f]|PROTOCOL_VIOLATION|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" \
	"$TMP/edge.log" "$TMP/origin.log" || die "a connection was closed with an error"
# the edge's connection to the origin: MOQ_UP_F_PEER_SERVER (0x2) and
# MOQ_UP_F_TLS (0x4), the origin's address as the source
want=$(printf '%02x' ${PUB_IP4//./ })
n=0
while read -r v; do
	[ $((0x${v:18:2} & 6)) = 6 ] && [ "${v:32:8}" = "$want" ] && n=$((n + 1))
done < <(bpftool -j map dump pinned "$FP_PIN/moq_upstreams" | jq -r '.[].value | map(ltrimstr("0x")) | join("")')
[ "$n" -gt 0 ] || die "no moq_upstreams entry for the origin connection with MOQ_UP_F_TLS | MOQ_UP_F_PEER_SERVER"
stop "$PUB_PID"
log "PASS fastpath_tls_chain: TLS origin -> TLS fast-path edge -> 3 TLS subscribers byte-exact, $share % sealed in the edge's kernel, $n CIDs of the origin connection registered with MOQ_UP_F_TLS"
