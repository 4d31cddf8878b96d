#!/usr/bin/env bash
# Malformed input from one session leaves the others running:
#  - while 2 subscribers receive a stream, a third host sends malformed
#    SUBSCRIBEs (moq-relay-probe --garbage) five times and random UDP junk
#    at the relay's port; each probe session is closed by the relay with
#    PROTOCOL_VIOLATION (0x3);
#  - the 2 subscribers get every object byte-exact and the relay keeps
#    serving new subscribers afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
[ -x "$PROBE" ] || die "build $PROBE first (make all)"
testbed_up 3

sip() { local v=RELAY_IP4_SUB_$1; echo "${!v}:4443"; }
start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0
start_pub pub pub --plaintext --rate 200 "$RELAY_IP4:4443"
wait_announce relay
start_sub s1 sub1 --plaintext --count 1000 "$(sip 1)"
P1=$SUB_PID
start_sub s2 sub2 --plaintext --count 1000 "$(sip 2)"
P2=$SUB_PID
sleep 1
ip=$(sip 3)
for k in 1 2 3 4 5; do
	out=$(on sub3 "$PROBE" --plaintext --garbage --timeout 3 "$ip")
	[ "$(echo "$out" | jq .closed)" = true ] && [ "$(echo "$out" | jq .close_code)" = 3 ] ||
		die "malformed SUBSCRIBE $k: relay did not close the session with PROTOCOL_VIOLATION: $out"
	on sub3 bash -c "head -c 1200 /dev/urandom > /dev/udp/${ip%:*}/4443; printf 'junk' > /dev/udp/${ip%:*}/4443" || true
done
kill -0 "$RELAY_PID" || die "relay died"
log "5 malformed sessions closed with PROTOCOL_VIOLATION, UDP junk ignored"
wait_exit "$P1" 20 sub1
wait_exit "$P2" 20 sub2
expect_intact s1
expect_intact s2
start_sub s3 sub3 --plaintext --count 200 "$ip"
wait_exit "$SUB_PID" 10 "sub3 after the malformed sessions"
expect_intact s3
log "other subscribers byte-exact; relay still serves new subscribers"
log "PASS relay_malformed"
