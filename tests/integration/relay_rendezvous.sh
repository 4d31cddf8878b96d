#!/usr/bin/env bash
# RENDEZVOUS_TIMEOUT and the end of a GOAWAY drain (draft-18 "RENDEZVOUS
# TIMEOUT Parameter", "Migration"), on 127.0.0.1 (no testbed):
#  - a SUBSCRIBE with RENDEZVOUS_TIMEOUT 5000 (cut to --max-rendezvous-wait
#    3, room for a loaded machine) sent ~0.7 s before the
#    publisher's PUBLISH_NAMESPACE is held, then gets SUBSCRIBE_OK (not before
#    the publisher came) and objects;
#  - a held SUBSCRIBE whose session ends is freed and never routed;
#  - held with no publisher: REQUEST_ERROR TIMEOUT (0x2) after the timeout;
#    a timeout above --max-rendezvous-wait 1 is cut to 1 s;
#  - without the parameter: DOES_NOT_EXIST (0x10) at once;
#  - --max-rendezvous 1: with one SUBSCRIBE held, a second gets
#    DOES_NOT_EXIST at once (a peer cannot pile up held requests);
#  - SIGTERM with --drain-timeout 1: a subscriber that ignores the GOAWAY is
#    closed with GOAWAY_TIMEOUT (0x10) at the end of the drain.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
[ -x "$PROBE" ] || die "build $PROBE first (make all)"

PA=$((20000 + $$ % 20000))
PB=$((PA + 1))
A=127.0.0.1:$PA
B_ADDR=127.0.0.1:$PB

jf() { jq -r "$2" <<<"$1"; }

start_relay relayA local --listen "$A" --plaintext --log-level info --stats-interval 0 --ctl-socket none \
	--drain-timeout 1 --max-rendezvous-wait 3
RELAY_A=$RELAY_PID

# --- held, then routed when the publisher announces
T0=$(date +%s%N)
"$PROBE" --plaintext --timeout 6 --subscribe --rendezvous 5000 "$A" >"$TMP/held.json" 2>"$TMP/held.log" &
PR=$!
_PIDS+=("$PR")
wait_for 3 grep -q "held up to" "$TMP/relayA.log" || { tail "$TMP/relayA.log" >&2; die "SUBSCRIBE not held"; }
grep -q "held up to 3000 ms (RENDEZVOUS_TIMEOUT 5000 ms)" "$TMP/relayA.log" ||
	die "RENDEZVOUS_TIMEOUT 5000 not cut to --max-rendezvous-wait 3"
# a second held SUBSCRIBE whose session ends while held: freed, never routed
"$PROBE" --plaintext --timeout 0.3 --subscribe --rendezvous 3000 "$A" >"$TMP/gone.json" 2>&1 || true
wait_for 3 grep -q "session closed" "$TMP/relayA.log" || { tail "$TMP/relayA.log" >&2; die "held session's close not seen"; }
TP=$((($(date +%s%N) - T0) / 1000000))
start_pub pub local --plaintext --rate 100 "$A"
wait_exit "$PR" 10 "held subscriber"
out=$(cat "$TMP/held.json")
log "held: $out"
[ "$(jf "$out" .sub_ok)" = true ] || die "held SUBSCRIBE did not get SUBSCRIBE_OK: $out"
ans=$(jf "$out" .answer_ms)
# not before the publisher started (the SUBSCRIBE left a handshake after T0)
[ "$ans" -ge $((TP - 100)) ] && [ "$ans" -lt 3000 ] ||
	die "SUBSCRIBE_OK after $ans ms (publisher started $TP ms after the probe; hold at most 3000 ms)"
[ "$(jf "$out" .objects)" -gt 50 ] || die "held then routed subscriber got too few objects: $out"
n=$(grep -c "publisher available, routing the held request" "$TMP/relayA.log" || true)
[ "$n" = 1 ] || die "$n held requests routed (want 1: the other one's session had ended)"
log "held SUBSCRIBE routed when the publisher came: SUBSCRIBE_OK after $ans ms, $(jf "$out" .objects) objects"

# --- a session that ignores GOAWAY is closed with GOAWAY_TIMEOUT at the end of the drain
"$PROBE" --plaintext --timeout 6 --subscribe "$A" >"$TMP/drain.json" 2>"$TMP/drain.log" &
PD=$!
_PIDS+=("$PD")
sleep 1
kill "$RELAY_A"
rc=0
wait "$RELAY_A" || rc=$?
[ "$rc" = 0 ] || die "relay A exit $rc after SIGTERM"
wait_exit "$PD" 8 "draining subscriber"
out=$(cat "$TMP/drain.json")
log "drain: $out"
[ "$(jf "$out" .sub_ok)" = true ] && [ "$(jf "$out" .objects)" -gt 0 ] || die "drain subscriber never subscribed: $out"
[ "$(jf "$out" .closed)" = true ] && [ "$(jf "$out" .close_code)" = 16 ] ||
	die "at the end of the drain the session was not closed with GOAWAY_TIMEOUT (0x10): $out"
log "end of drain: the remaining session closed with GOAWAY_TIMEOUT (0x10)"
stop "$PUB_PID"

# --- no publisher: TIMEOUT after the hold; no parameter: DOES_NOT_EXIST; the cap
start_relay relayB local --listen "$B_ADDR" --plaintext --log-level info --stats-interval 0 --ctl-socket none \
	--drain-timeout 1 --max-rendezvous 1
RELAY_B=$RELAY_PID
out=$("$PROBE" --plaintext --timeout 4 --subscribe --rendezvous 800 "$B_ADDR")
log "no publisher: $out"
ans=$(jf "$out" .answer_ms)
[ "$(jf "$out" .error_code)" = 2 ] || die "expired hold: not REQUEST_ERROR TIMEOUT (0x2): $out"
[ "$ans" -ge 750 ] && [ "$ans" -lt 2000 ] || die "TIMEOUT after $ans ms (want ~800)"
out=$("$PROBE" --plaintext --timeout 4 --subscribe "$B_ADDR")
[ "$(jf "$out" .error_code)" = 16 ] && [ "$(jf "$out" .answer_ms)" -lt 500 ] ||
	die "no RENDEZVOUS_TIMEOUT: not DOES_NOT_EXIST (0x10) at once: $out"
log "no publisher: TIMEOUT (0x2) after $ans ms with RENDEZVOUS_TIMEOUT 800; DOES_NOT_EXIST (0x10) at once without it"

"$PROBE" --plaintext --timeout 4 --track one --subscribe --rendezvous 3000 "$B_ADDR" >"$TMP/one.json" 2>&1 &
P1=$!
_PIDS+=("$P1")
wait_for 3 grep -q "one: no publisher yet, held" "$TMP/relayB.log" || { tail "$TMP/relayB.log" >&2; die "first SUBSCRIBE not held"; }
out=$("$PROBE" --plaintext --timeout 4 --track two --subscribe --rendezvous 3000 "$B_ADDR")
[ "$(jf "$out" .error_code)" = 16 ] && [ "$(jf "$out" .answer_ms)" -lt 500 ] ||
	die "--max-rendezvous 1: a second SUBSCRIBE was not answered DOES_NOT_EXIST at once: $out"
grep -q "already held for a publisher (--max-rendezvous)" "$TMP/relayB.log" || die "relay did not log the cap"
wait_exit "$P1" 6 "first held subscriber"
[ "$(jq -r .error_code "$TMP/one.json")" = 2 ] || die "first held SUBSCRIBE did not end with TIMEOUT: $(cat "$TMP/one.json")"
log "--max-rendezvous 1: a second SUBSCRIBE answered DOES_NOT_EXIST at once; the held one timed out"

kill -0 "$RELAY_B" || die "relay B died"
kill "$RELAY_B"
rc=0
wait "$RELAY_B" || rc=$?
[ "$rc" = 0 ] || die "relay B exit $rc after SIGTERM"
log "PASS relay_rendezvous"
