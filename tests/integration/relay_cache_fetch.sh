#!/usr/bin/env bash
# moq-relayd cache and FETCH on the netns testbed:
#  - a late joiner (no filter) gets the current group from its first object
#    (from the relay's cache), then live: its first 100 objects are one
#    whole group;
#  - NextGroupStart / LargestObject filters; an AbsoluteRange whose end
#    group has passed gets INVALID_RANGE;
#  - standalone FETCH of cached groups is served from the cache, byte-exact;
#  - joining FETCH (relative, 1 group back) is served;
#  - FETCH of a range the cache lacks is forwarded upstream (a second relay
#    chained to the first, nothing cached) and its objects piped back
#    byte-exact; FETCH and SUBSCRIBE of an unknown
#    namespace get DOES_NOT_EXIST, an End before Start gets INVALID_RANGE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
[ -x "$PROBE" ] || die "build $PROBE first (make all)"
testbed_up 3

R=$RELAY_IP4_SUB_1:4443
start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0 --cache-groups 100
start_pub pub pub --plaintext --rate 100 --objects-per-group 100 --object-size 800 "$RELAY_IP4:4443"
wait_announce relay
start_sub first sub1 --plaintext --duration 14 "$R"
FIRST=$SUB_PID
sleep 2.5 # mid-group (groups last 1 s)
start_sub late sub2 --plaintext --count 100 "$RELAY_IP4_SUB_2:4443"
wait_exit "$SUB_PID" 10 "late joiner"
expect_intact late
[ "$(jget "$TMP/late.json" .groups_complete)" = 1 ] ||
	{ cat "$TMP/late.json"; die "late joiner: its first 100 objects are not one whole group (not started at the group's first object)"; }
log "late joiner started at the first object of the current group (cache replay)"

# filters: NextGroupStart gives whole groups from the next one; LargestObject
# starts live; an AbsoluteRange that ended already is INVALID_RANGE
start_sub nextg sub2 --plaintext --filter next-group --count 100 "$RELAY_IP4_SUB_2:4443"
NG=$SUB_PID
start_sub largest sub3 --plaintext --filter largest --count 50 "$RELAY_IP4_SUB_3:4443"
wait_exit "$NG" 10 "next-group subscriber"
wait_exit "$SUB_PID" 10 "largest-object subscriber"
expect_intact nextg
[ "$(jget "$TMP/nextg.json" .groups_complete)" = 1 ] || { cat "$TMP/nextg.json"; die "NextGroupStart: first 100 objects are not one whole group"; }
[ "$(jget "$TMP/largest.json" .objects_received)" = 50 ] && [ "$(jget "$TMP/largest.json" .objects_missing)" = 0 ] &&
	[ "$(jget "$TMP/largest.json" .integrity_errors)" = 0 ] ||
	{ cat "$TMP/largest.json"; die "LargestObject filter subscriber"; }
rc=0
on sub3 "$SUB" --plaintext --filter range:0:1 --count 1 --json --quiet "$RELAY_IP4_SUB_3:4443" >/dev/null 2>"$TMP/range.log" || rc=$?
[ $rc = 4 ] && grep -q INVALID_RANGE "$TMP/range.log" || die "AbsoluteRange 0..1 after group 1 ended: exit $rc, $(cat "$TMP/range.log")"
log "filters: NextGroupStart whole groups, LargestObject live, passed AbsoluteRange -> INVALID_RANGE"

sleep 2
out=$(on sub3 "$PROBE" --plaintext --fetch 3:4 "$RELAY_IP4_SUB_3:4443")
echo "$out" >"$TMP/fetch.json"
[ "$(jget "$TMP/fetch.json" .fetch_ok)" = true ] && [ "$(jget "$TMP/fetch.json" .objects)" = 200 ] &&
	[ "$(jget "$TMP/fetch.json" .integrity_errors)" = 0 ] && [ "$(jget "$TMP/fetch.json" .first_group)" = 3 ] &&
	[ "$(jget "$TMP/fetch.json" .last_group)" = 4 ] || die "standalone FETCH 3..4: $out"
grep -q "FETCH .* from the cache" "$TMP/relay.log" || die "FETCH was not served from the cache"
log "standalone FETCH of 2 cached groups: 200 objects byte-exact from the cache"

out=$(on sub3 "$PROBE" --plaintext --joining 1 "$RELAY_IP4_SUB_3:4443")
echo "$out" >"$TMP/join.json"
[ "$(jget "$TMP/join.json" .fetch_ok)" = true ] && [ "$(jget "$TMP/join.json" .objects)" -gt 100 ] &&
	[ "$(jget "$TMP/join.json" .integrity_errors)" = 0 ] || die "joining FETCH: $out"
log "joining FETCH (1 group back): $(jget "$TMP/join.json" .objects) objects byte-exact"

# a second relay (port 4444, upstream = the first) has nothing cached for
# the track: it forwards the FETCH upstream and pipes the objects back
start_relay relay2 relay --listen 0.0.0.0:4444 --plaintext --log-level info --stats-interval 0 --upstream 127.0.0.1:4443
wait_for 5 grep -q "session ready (upstream)" "$TMP/relay2.log" || die "relay2 did not connect upstream"
out=$(on sub3 "$PROBE" --plaintext --timeout 5 --fetch 3:4 "$RELAY_IP4_SUB_3:4444")
echo "$out" >"$TMP/up.json"
[ "$(jget "$TMP/up.json" .fetch_ok)" = true ] && [ "$(jget "$TMP/up.json" .objects)" = 200 ] &&
	[ "$(jget "$TMP/up.json" .integrity_errors)" = 0 ] || die "FETCH forwarded upstream: $out"
grep -q "not in the cache, forwarded" "$TMP/relay2.log" || die "relay2 did not forward the FETCH upstream"
log "FETCH the cache lacks: forwarded upstream, 200 objects byte-exact piped back"

out=$(on sub3 "$PROBE" --plaintext --namespace nosuch --fetch 0:0 "$RELAY_IP4_SUB_3:4443")
[ "$(echo "$out" | jq .error_code)" = 16 ] || die "FETCH of an unknown namespace: want DOES_NOT_EXIST (16): $out"
out=$(on sub3 "$PROBE" --plaintext --fetch 4:3 "$RELAY_IP4_SUB_3:4443")
[ "$(echo "$out" | jq .error_code)" = 17 ] || die "FETCH with End before Start: want INVALID_RANGE (17): $out"
rc=0
on sub3 "$SUB" --plaintext --namespace nosuch --count 1 --json --quiet "$RELAY_IP4_SUB_3:4443" >/dev/null 2>"$TMP/nosuch.log" || rc=$?
[ $rc = 4 ] && grep -q DOES_NOT_EXIST "$TMP/nosuch.log" || die "SUBSCRIBE to an unknown namespace: exit $rc, $(cat "$TMP/nosuch.log")"
log "unknown namespace: DOES_NOT_EXIST for FETCH and SUBSCRIBE; End < Start: INVALID_RANGE"

wait_exit "$FIRST" 20 "first subscriber"
expect_intact first
log "PASS relay_cache_fetch"
