#!/usr/bin/env bash
# PUBLISH (a publisher pushing one track, not PUBLISH_NAMESPACE) through
# moq-relayd: moq-relay-probe --publish sends PUBLISH, then 300 synthetic
# objects; two subscribers that subscribed after the PUBLISH get all of
# them byte-exact, then the publisher's PUBLISH_DONE (passed on by the
# relay) ends their subscriptions.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
[ -x "$PROBE" ] || die "build $PROBE first (make all)"
testbed_up 2

start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0
wt_probe_args --plaintext --namespace pushed --track cam --publish 300 --timeout 8 "$RELAY_IP4:4443"
on pub "$PROBE" "${WT_ARGS[@]}" >"$TMP/probe.json" &
PR=$!
wait_for 3 grep -q "published by" "$TMP/relay.log" || die "relay did not accept the PUBLISH"
pids=()
for i in 1 2; do
	v=RELAY_IP4_SUB_$i
	start_sub "s$i" "sub$i" --plaintext --namespace pushed --track cam "${!v}:4443"
	pids+=("$SUB_PID")
done
for p in "${pids[@]}"; do wait_exit "$p" 15 subscriber; done
wait "$PR" || true
for i in 1 2; do
	expect_intact "s$i"
	[ "$(jget "$TMP/s$i.json" .objects_received)" = 300 ] || die "s$i: $(jget "$TMP/s$i.json" .objects_received) of 300 objects"
	[ "$(jget "$TMP/s$i.json" '.tracks[0].publish_done')" = true ] || die "s$i: no PUBLISH_DONE"
done
grep -q "ended: publisher: probe done" "$TMP/relay.log" || die "relay did not pass on the publisher's PUBLISH_DONE"
log "PUBLISH: 2 subscribers got all 300 objects byte-exact and the publisher's PUBLISH_DONE"
log "PASS relay_publish"
