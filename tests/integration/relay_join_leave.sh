#!/usr/bin/env bash
# moq-relayd with subscribers joining and leaving mid-stream:
#  - one subscriber for the whole run, others join and leave at different
#    times (one of them three times); all byte-exact, and the relay keeps a
#    single upstream subscription while anybody is subscribed;
#  - when the last subscriber leaves the relay unsubscribes upstream;
#  - SIGTERM with a publisher still connected: GOAWAY, then exit within the
#    drain timeout (2 s) plus a margin.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 4

sip() { local v=RELAY_IP4_SUB_$1; echo "${!v}:4443"; }
start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0 --drain-timeout 2
start_pub pub pub --plaintext --rate 200 --objects-per-group 40 --subgroups-per-group 2 "$RELAY_IP4:4443"
wait_announce relay

start_sub long sub1 --plaintext --duration 9 "$(sip 1)"
LONG=$SUB_PID
sleep 1
start_sub mid sub2 --plaintext --duration 3 "$(sip 2)"
MID=$SUB_PID
sleep 1.5
start_sub late sub3 --plaintext --duration 3 "$(sip 3)"
LATE=$SUB_PID
for k in 1 2 3; do
	start_sub "hop$k" sub4 --plaintext --duration 1 "$(sip 4)"
	wait_exit "$SUB_PID" 10 "hop$k"
	sleep 0.3
done
wait_exit "$MID" 10 mid
wait_exit "$LATE" 10 late
wait_exit "$LONG" 15 long
for n in long mid late hop1 hop2 hop3; do expect_intact "$n"; done
ups=$(grep -c -- "--test: subscribing upstream" "$TMP/relay.log" || true)
[ "$ups" = 1 ] || die "relay subscribed upstream $ups times while subscribers overlapped (want 1)"
wait_for 3 grep -q "last subscriber left, unsubscribing upstream" "$TMP/relay.log" ||
	die "relay did not unsubscribe upstream after the last subscriber left"
log "6 subscriptions joining/leaving: byte-exact, one upstream subscription, released at the end"

t0=$(date +%s%N)
kill -TERM "$RELAY_PID"
wait_exit "$RELAY_PID" 6 "relay drain after SIGTERM"
ms=$((($(date +%s%N) - t0) / 1000000))
[ $ms -lt 4000 ] || die "relay took $ms ms to drain (bound 2 s + margin)"
grep -q "GOAWAY" "$TMP/relay.log" || die "no GOAWAY logged on SIGTERM"
log "SIGTERM: GOAWAY and exit after $ms ms"
log "PASS relay_join_leave"
