#!/usr/bin/env bash
# moq-relayd --fast-path on clones only packets whose number is new for
# their publisher connection (issue 17 finding 2a). A spoofer on the
# publisher's link (tests/integration/relay/pn_replay.py, in the
# publisher's namespace, with its address and port) captures media packets
# and sends each back twice under the same packet number: the same bytes,
# and a forgery that moves the STREAM frame ahead in its stream with bytes
# the publisher never sent. ngtcp2 discards both as duplicates; so must the
# kernel: every subscriber byte-exact, no integrity error, no connection
# closed with an error, and the kernel counts pn_duplicate for each copy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 3
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

OBJECTS=2400
R_DUP=$(fp_reason_index pn_duplicate)
fp_relay rp --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 --ctl-socket none
start_pub rp-pub pub --plaintext --rate 300 --object-size 600 --objects-per-group 30 \
	--track test "$RELAY_IP4:4443"
wait_announce rp
pids=()
for i in 1 2 3; do
	v=RELAY_IP4_SUB_$i
	start_sub rp-s$i "sub$i" --plaintext --count "$OBJECTS" --connect-timeout 5 "${!v}:4443"
	pids+=("$SUB_PID")
done
sleep 1
d0=$(fp_stat 0 "$R_DUP")
nsenter --net="/run/netns/$PUB_NS" python3 "$ROOT/tests/integration/relay/pn_replay.py" \
	"$PUB_IF" "$RELAY_IP4" 4443 5 150 >"$TMP/spoof.json" || die "the spoofer failed"
for p in "${pids[@]}"; do wait_exit "$p" 40 "a subscriber"; done
d1=$(fp_stat 0 "$R_DUP")
captured=$(jget "$TMP/spoof.json" .captured)
log "spoofer: $(cat "$TMP/spoof.json"); kernel pn_duplicate $d0 -> $d1"
[ "$captured" -ge 20 ] || die "the spoofer captured only $captured media packets"
for i in 1 2 3; do
	expect_intact rp-s$i
	grep -q '"exit_code":0' "$TMP/rp-s$i.json" || die "rp-s$i: exit code not 0"
done
! grep -E "closed \(code 0x[1-9a-f]|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" "$TMP/rp.log" ||
	die "a connection was closed with an error"
[ $((d1 - d0)) -ge $((2 * captured)) ] ||
	die "pn_duplicate grew by $((d1 - d0)), want >= $((2 * captured)) (2 per captured packet)"
log "PASS fastpath_pn_replay: $captured packets replayed and forged under their own number, none cloned"
