#!/usr/bin/env bash
# The kernel never clones stream bytes beyond a subscriber's flow-control
# credit (issue 17 finding 2b). A STREAM frame spoofed on the publisher's
# link at offset 2^40, and one ending just beyond the subscribers' stream
# window, reach the egress program (new packet numbers, so the ingress
# program clones them; sent to a MAC that is not the relay's, so the
# relay's IP stack drops them before its QUIC stack, which would close the
# publisher's connection); without the credit check they went out and
# every fast subscriber closed with FLOW_CONTROL_ERROR. Now they are refused
# (stream_credit) and both subscribers stay connected and byte-exact.
# Then a subscriber with a 4 KiB stream window (moq-sub --max-stream-data)
# gets every object through the fast path: the kernel forwards up to each
# stream's credit, the agent publishes the subscriber's MAX_STREAM_DATA
# (moq_stream_credit) and writes what the kernel had to refuse.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 2
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

SPOOF=$ROOT/tests/integration/relay/spoof_stream.py
EG=1 # MOQ_PROG_SUBSCRIBER_EGRESS
R_STREAM_CREDIT=$(fp_reason_index stream_credit)
R_PN_DUP=$(fp_reason_index pn_duplicate)
UP=0 # MOQ_PROG_UPSTREAM_INGRESS
WINDOW=$((16 << 20)) # moq-sub's default initial_max_stream_data

fp_relay fc --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 \
	--ctl-socket none
start_pub fc-pub pub --plaintext --rate 100 --object-size 8000 --objects-per-group 50 --track test \
	--track small "$RELAY_IP4:4443"
wait_announce fc
start_sub fc-s1 sub1 --plaintext --duration 8 --connect-timeout 5 "$RELAY_IP4_SUB_1:4443"
S1=$SUB_PID
start_sub fc-s2 sub2 --plaintext --duration 8 --connect-timeout 5 "$RELAY_IP4_SUB_2:4443"
S2=$SUB_PID
# objects flowing through the kernel first
wait_for 5 grep -q "fastpath subs=2 kernel_pkts=[1-9]" "$TMP/fc.log" ||
	{ tail -n 5 "$TMP/fc.log" "$TMP"/fc-s*.log "$TMP"/fc-s*.json >&2; die "the kernel forwarded nothing"; }
before=$(fp_stat $EG "$R_STREAM_CREDIT")
dup0=$(fp_stat $UP "$R_PN_DUP")
out=$(on pub python3 "$SPOOF" "$PUB_IF" "$RELAY_IP4" 4443 $((1 << 40)) $((WINDOW - 8))) ||
	die "could not spoof a publisher packet"
log "$out"
# each subscriber ran its full time and exited 0 (a connection closed by a
# FLOW_CONTROL_ERROR ends early with a failure status); 8 s, not 4: under
# load the spoofer started seconds after them and saw no packet once the
# subscribers had gone and the publisher had stopped the track
for s in "1 $S1" "2 $S2"; do
	set -- $s
	timeout 20 tail --pid="$2" -f /dev/null || die "subscriber $1 did not finish"
	rc=0
	wait "$2" || rc=$?
	[ $rc = 0 ] || { tail -5 "$TMP/fc-s$1.log" >&2; die "subscriber $1 exited with status $rc"; }
	expect_intact "fc-s$1"
	# moq-sub exits 0 when the relay closes the session: it must have
	# run its full time
	d=$(jget "$TMP/fc-s$1.json" .duration_s)
	awk -v d="$d" 'BEGIN { exit !(d >= 7.9) }' ||
		die "subscriber $1 ended after $d s, not 8 (connection closed)"
done
! grep "ERR_FLOW_CONTROL" "$TMP/fc.log" || die "a subscriber connection died of a flow-control error"
after=$(fp_stat $EG "$R_STREAM_CREDIT")
dup1=$(fp_stat $UP "$R_PN_DUP")
log "stream_credit refusals: $before before the spoof, $after after; pn_duplicate $dup0 -> $dup1"
# two spoofed frames under new packet numbers (the window lets them
# through), each cloned to both subscribers: the egress credit check must
# refuse all four clones. (The publisher's own packets under those numbers
# come later: pn_duplicate, the agent sends them; the subscribers above
# are byte-exact.)
[ $((after - before)) -ge 4 ] ||
	die "spoofed frames not refused for credit: stream_credit $before -> $after"

# a small stream window, on a track it is the first subscriber of (the
# publisher starts it then): byte-exact through the fast path
before=$(fp_stat $EG "$R_STREAM_CREDIT")
fwd0=$(fp_stat $EG 0)
# --count, not --duration: under load objects still on their way at the end
# of a fixed time were counted missing
start_sub fc-s3 sub1 --plaintext --count 300 --connect-timeout 5 --max-stream-data 4096 \
	--track small "$RELAY_IP4_SUB_1:4443"
wait_exit "$SUB_PID" 30 "the small-window subscriber"
expect_intact fc-s3
after=$(fp_stat $EG "$R_STREAM_CREDIT")
fwd1=$(fp_stat $EG 0)
log "small window: $((after - before)) clones refused for stream credit, $((fwd1 - fwd0)) forwarded"
[ $((after - before)) -gt 0 ] || die "a 4 KiB stream window never held the kernel back"
[ $((fwd1 - fwd0)) -gt 0 ] || die "nothing went through the kernel for the small-window subscriber"
# every ring record the kernel wrote passed the agent's check (fp_event_check)
wait_for 3 grep -q "fastpath subs=.* bad_events=" "$TMP/fc.log" || die "no fastpath stats line"
! grep "fastpath subs=" "$TMP/fc.log" | grep -qv " bad_events=0$" ||
	die "the agent refused ring records: $(grep -o 'bad_events=[0-9]*' "$TMP/fc.log" | tail -n 1)"
log "PASS fastpath_flow_credit"
