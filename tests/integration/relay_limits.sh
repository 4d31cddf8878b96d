#!/usr/bin/env bash
# moq-relayd limits (docs/relay.md "Limits"), on 127.0.0.1 (no testbed).
# Each limit is exceeded once and the exact answer checked, while the
# sessions already served keep receiving every object intact:
#  - --max-subscriptions 3: a 4th SUBSCRIBE in one session gets
#    REQUEST_ERROR EXCESSIVE_LOAD (0x9) "too many subscriptions";
#  - --max-tracks 4: a SUBSCRIBE that would make a 5th track gets
#    EXCESSIVE_LOAD "too many tracks", while one to a carried track succeeds;
#  - --max-name-bytes 64 / --max-namespace-fields 2: a longer SUBSCRIBE name
#    gets DOES_NOT_EXIST (0x10), a publisher's longer namespace UNINTERESTED
#    (0x20);
#  - --max-sessions 4: one more connection is refused at the QUIC handshake
#    (CONNECTION_REFUSED, 0x2); once a session ends a new one is accepted;
#  - --max-request-rate 3 (second relay): of 8 SUBSCRIBEs sent at once, all
#    but the 3-4 the bucket allows get EXCESSIVE_LOAD "request rate"; a new
#    session has its own budget.
# The relays must still be running at the end and exit 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check

PA=$((20000 + $$ % 20000))
PB=$((PA + 1))
A=127.0.0.1:$PA
B_ADDR=127.0.0.1:$PB

refusals() { # LOG CODE-TEXT REASON-TEXT -> number of matching refusal lines
	grep -c "refused with REQUEST_ERROR $2.*$3" "$TMP/$1.log" || true
}
alive() { kill -0 "$RELAY_A" 2>/dev/null || { tail -20 "$TMP/relayA.log" >&2; die "relay A died ($*)"; }; }
# every subscribed track of NAME's JSON got objects, none missing or corrupt
served_intact() {
	local f=$TMP/$1.json bad
	[ -s "$f" ] || { cat "$TMP/$1.log" >&2; die "$1: no JSON summary"; }
	bad=$(jq -r '[.tracks[] | select(.subscribed) |
		select(.objects_received == 0 or .objects_missing != 0 or .integrity_errors != 0) | .name] | join(",")' "$f")
	[ -z "$bad" ] || { jq -c '.tracks[] | {name,subscribed,objects_received,objects_missing,integrity_errors}' "$f" >&2; die "$1: tracks not served intact: $bad"; }
}

start_relay relayA local --listen "$A" --plaintext --log-level info --stats-interval 0 --ctl-socket none --drain-timeout 1 \
	--max-sessions 4 --max-subscriptions 3 --max-tracks 4 --max-name-bytes 64 \
	--max-namespace-fields 2 --max-request-rate 0
RELAY_A=$RELAY_PID
start_pub pub local --plaintext --rate 100 --track t1 --track t2 --track t3 --track t4 \
	--track t5 --track t6 "$A"
wait_announce relayA

# --- subscriptions per session: 4 SUBSCRIBEs, 3 accepted (session 2)
start_sub sub1 local --plaintext --duration 9 --track t1 --track t2 --track t3 --track t4 "$A"
S1=$SUB_PID
wait_for 5 grep -q "refused" "$TMP/sub1.log" || { cat "$TMP/sub1.log" >&2; die "sub1: 4th SUBSCRIBE not refused"; }
sleep 0.5
n=$(refusals sub1 "EXCESSIVE_LOAD (0x9)" "too many subscriptions in this session")
[ "$n" = 1 ] || { cat "$TMP/sub1.log" >&2; die "sub1: $n EXCESSIVE_LOAD refusals for --max-subscriptions 3 (want 1)"; }
[ "$(grep -c refused "$TMP/sub1.log")" = 1 ] || { cat "$TMP/sub1.log" >&2; die "sub1: other refusals"; }
gone=$(sed -n 's/.*SUBSCRIBE to track \(t[0-9]\) refused.*/\1/p' "$TMP/sub1.log")
carried=
for t in t1 t2 t3 t4; do [ "$t" = "$gone" ] || { carried=$t; break; }; done
log "--max-subscriptions 3: SUBSCRIBE $gone refused with EXCESSIVE_LOAD (0x9)"

# --- tracks: 3 carried; t5/t6 would make 4 and 5; $carried is carried (session 3)
start_sub sub2 local --plaintext --duration 7 --track t5 --track t6 --track "$carried" "$A"
S2=$SUB_PID
wait_for 5 grep -q "refused" "$TMP/sub2.log" || { cat "$TMP/sub2.log" >&2; die "sub2: 5th track not refused"; }
sleep 0.5
n=$(refusals sub2 "EXCESSIVE_LOAD (0x9)" "relay carries too many tracks")
[ "$n" = 1 ] || { cat "$TMP/sub2.log" >&2; die "sub2: $n too-many-tracks refusals with --max-tracks 4 (want 1)"; }
grep -q "track $carried refused" "$TMP/sub2.log" && die "sub2: SUBSCRIBE to the carried track $carried refused"
alive "tracks"
log "--max-tracks 4: the 5th track refused with EXCESSIVE_LOAD (0x9), a carried one still joinable"

# --- name sizes (session 4 each time, ends at once)
long=$(printf 'x%.0s' $(seq 60)) # 7 (moq-pub) + 60 bytes > 64
rc=0
run_client 10 "$SUB" --plaintext --json --quiet --duration 3 --track "$long" "$A" >"$TMP/name1.json" 2>"$TMP/name1.log" || rc=$?
n=$(refusals name1 "DOES_NOT_EXIST (0x10)" "size limits")
[ "$n" = 1 ] || { cat "$TMP/name1.log" >&2; die "67-byte Full Track Name: not refused with DOES_NOT_EXIST (exit $rc)"; }
rc=0
run_client 10 "$SUB" --plaintext --json --quiet --duration 3 --namespace moq-pub/a/b --track t1 "$A" \
	>"$TMP/name2.json" 2>"$TMP/name2.log" || rc=$?
n=$(refusals name2 "DOES_NOT_EXIST (0x10)" "size limits")
[ "$n" = 1 ] || { cat "$TMP/name2.log" >&2; die "3-field namespace: not refused with DOES_NOT_EXIST (exit $rc)"; }
rc=0
run_client 10 "$PUB" --plaintext --namespace x/y/z "$A" 2>"$TMP/name3.log" || rc=$?
grep -q "refused PUBLISH_NAMESPACE: UNINTERESTED (code 0x20).*size limits" "$TMP/name3.log" ||
	{ cat "$TMP/name3.log" >&2; die "3-field PUBLISH_NAMESPACE: not refused with UNINTERESTED (exit $rc)"; }
alive "names"
log "--max-name-bytes/--max-namespace-fields: DOES_NOT_EXIST (0x10) to subscribers, UNINTERESTED (0x20) to publishers"

# --- sessions: pub, sub1, sub2 + one holder = 4; a 5th is refused
start_sub hold local --plaintext --duration 20 --track "$carried" "$A"
HOLD=$SUB_PID
subs_established() { [ "$(grep -c 'subscriber .*alias' "$TMP/relayA.log")" -ge "$1" ]; }
wait_for 5 subs_established 6 ||
	{ tail "$TMP/relayA.log" >&2; die "the 4th session did not subscribe"; }
rc=0
run_client 10 "$SUB" --plaintext --json --quiet --duration 2 --track "$carried" "$A" \
	>"$TMP/over.json" 2>"$TMP/over.log" || rc=$?
grep -q "handshake refused by peer (0x2)" "$TMP/over.log" ||
	{ cat "$TMP/over.log" >&2; die "5th session: not refused with CONNECTION_REFUSED (exit $rc)"; }
[ "$rc" != 0 ] || die "5th session: moq-sub exit 0"
grep -q "limit: 4 sessions (--max-sessions)" "$TMP/relayA.log" || die "relay did not log the refused session"
stop "$HOLD"
start_sub after local --plaintext --count 50 --track "$carried" "$A"
wait_exit "$SUB_PID" 10 "a session after one ended"
expect_intact after
log "--max-sessions 4: the 5th connection refused (CONNECTION_REFUSED 0x2); accepted again after one ended"

# --- the sessions served all along got every object
wait_exit "$S1" 15 sub1
wait_exit "$S2" 15 sub2
served_intact sub1
served_intact sub2
[ "$(jq '[.tracks[] | select(.subscribed)] | length' "$TMP/sub1.json")" = 3 ] || die "sub1: not 3 subscribed tracks"
[ "$(jq '[.tracks[] | select(.subscribed)] | length' "$TMP/sub2.json")" = 2 ] || die "sub2: not 2 subscribed tracks"
alive "end"
log "sub1 (3 tracks) and sub2 (2 tracks) received every object intact throughout"

# --- request rate (second relay, no publisher: accepted requests get DOES_NOT_EXIST)
start_relay relayB local --listen "$B_ADDR" --plaintext --log-level info --stats-interval 0 \
	--ctl-socket none --drain-timeout 1 --max-request-rate 3
RELAY_B=$RELAY_PID
args=()
for i in 1 2 3 4 5 6 7 8; do args+=(--track "r$i"); done
rc=0
run_client 10 "$SUB" --plaintext --json --quiet --duration 3 "${args[@]}" "$B_ADDR" \
	>"$TMP/rate.json" 2>"$TMP/rate.log" || rc=$?
ex=$(refusals rate "EXCESSIVE_LOAD (0x9)" "request rate over this relay's limit")
dn=$(refusals rate "DOES_NOT_EXIST (0x10)" "no publisher")
[ $((ex + dn)) = 8 ] && [ "$dn" -ge 3 ] && [ "$dn" -le 4 ] ||
	{ cat "$TMP/rate.log" >&2; die "--max-request-rate 3: $dn passed, $ex EXCESSIVE_LOAD of 8 (want 3-4 passed)"; }
rc=0
run_client 10 "$SUB" --plaintext --json --quiet --duration 3 --track r1 --track r2 --track r3 "$B_ADDR" \
	>"$TMP/rate2.json" 2>"$TMP/rate2.log" || rc=$?
[ "$(refusals rate2 "DOES_NOT_EXIST (0x10)" "no publisher")" = 3 ] ||
	{ cat "$TMP/rate2.log" >&2; die "a new session was rate limited by the other session's budget"; }
log "--max-request-rate 3: $dn of 8 SUBSCRIBEs at once passed, $ex got EXCESSIVE_LOAD (0x9); a new session has its own budget"

for r in "$RELAY_A" "$RELAY_B"; do
	kill -0 "$r" || die "a relay died"
	kill "$r"
	rc=0
	wait "$r" || rc=$?
	[ "$rc" = 0 ] || die "relay exit $rc after SIGTERM"
done
log "PASS relay_limits"
