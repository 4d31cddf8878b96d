#!/usr/bin/env bash
# Publisher restart through moq-relayd:
#  - publisher stops (SIGTERM, clean close): its subscribers get
#    PUBLISH_DONE (moq-sub ends with publish_done true, nothing corrupt);
#  - a new publisher announces the same namespace: new subscribers get its
#    objects byte-exact;
#  - publisher killed (SIGKILL, no close): with --idle-timeout 3 the relay
#    notices within a few seconds and sends PUBLISH_DONE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 2

R1=$RELAY_IP4_SUB_1:4443
start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0 --idle-timeout 3
start_pub pub1 pub --plaintext --rate 100 "$RELAY_IP4:4443"
wait_announce relay
start_sub s1 sub1 --plaintext "$R1"
S1=$SUB_PID
sleep 2
stop "$PUB_PID"
wait_exit "$S1" 10 "subscriber after the publisher stopped"
[ "$(jget "$TMP/s1.json" '.tracks[0].publish_done')" = true ] || { cat "$TMP/s1.json"; die "subscriber did not get PUBLISH_DONE"; }
[ "$(jget "$TMP/s1.json" .integrity_errors)" = 0 ] && [ "$(jget "$TMP/s1.json" .objects_received)" -gt 100 ] ||
	{ cat "$TMP/s1.json"; die "subscriber data before PUBLISH_DONE"; }
log "publisher stopped: subscriber got PUBLISH_DONE after $(jget "$TMP/s1.json" .objects_received) intact objects"

: >"$TMP/relay.log.mark"
start_pub pub2 pub --plaintext --rate 100 "$RELAY_IP4:4443"
wait_for 5 sh -c "[ \$(grep -c 'publishes namespace' '$TMP/relay.log') -ge 2 ]" || die "restarted publisher not announced"
start_sub s2 sub1 --plaintext --count 200 "$R1"
wait_exit "$SUB_PID" 10 "subscriber of the restarted publisher"
expect_intact s2
log "restarted publisher: new subscriber byte-exact"

start_sub s3 sub2 --plaintext "$RELAY_IP4_SUB_2:4443"
S3=$SUB_PID
sleep 1.5
{ kill -9 "$PUB_PID"; wait "$PUB_PID"; } 2>/dev/null || true
wait_exit "$S3" 12 "subscriber after the publisher was killed"
[ "$(jget "$TMP/s3.json" '.tracks[0].publish_done')" = true ] || { cat "$TMP/s3.json"; die "no PUBLISH_DONE after the publisher was killed"; }
[ "$(jget "$TMP/s3.json" .integrity_errors)" = 0 ] || die "corrupt objects before the publisher was killed"
log "publisher killed: PUBLISH_DONE after the idle timeout"
log "PASS relay_pub_restart"
