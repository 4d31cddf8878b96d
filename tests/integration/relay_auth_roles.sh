#!/usr/bin/env bash
# moq-relayd authorization roles and SIGHUP (docs/relay.md "Authorization"),
# on 127.0.0.1 (no testbed). The config file sets --publish-token and
# --subscribe-token:
#  - a publisher with the publish token announces; a subscriber with the
#    subscribe token gets objects;
#  - the publish token does not let a peer SUBSCRIBE, the subscribe token
#    does not let a peer PUBLISH_NAMESPACE (REQUEST_ERROR UNAUTHORIZED,
#    0x1), in particular not over the live namespace: the first publisher
#    keeps it; no token at all: the session is closed UNAUTHORIZED (0x2);
#  - SIGHUP with a new subscribe token (and an --auth-token added): the
#    subscriber whose token no longer validates gets GOAWAY and is closed
#    with GOAWAY_TIMEOUT (0x10) after --drain-timeout 1; the publisher, whose
#    token still validates, is left alone; the new subscribe token and the
#    old-style --auth-token both subscribe, the token also when sent as
#    alias type REGISTER in SETUP;
#  - a second publisher with the publish token replaces the live namespace's
#    publisher, and the relay logs it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
[ -x "$PROBE" ] || die "build $PROBE first (make all)"

PORT=$((20000 + $$ % 20000))
A=127.0.0.1:$PORT
PT=pub$$
SA=subA$$
SB=subB$$
AT=all$$
CONF=$TMP/relay.conf
jf() { jq -r "$2" <<<"$1"; }
probe() { "$PROBE" --plaintext "$@" "$A"; }

cat >"$CONF" <<EOT
plaintext = true
publish-token = $PT
subscribe-token = $SA
EOT
start_relay relay local --config "$CONF" --listen "$A" --log-level info --stats-interval 0 \
	--ctl-socket none --drain-timeout 1
RELAY=$RELAY_PID
start_pub pub local --plaintext --auth-token "$PT" --rate 100 "$A"
PUB1=$PUB_PID
wait_announce relay

# the subscriber that will lose its authorization
"$PROBE" --plaintext --timeout 8 --subscribe --auth-token "$SA" "$A" >"$TMP/victim.json" 2>"$TMP/victim.log" &
VICTIM=$!
_PIDS+=("$VICTIM")

# --- roles
out=$(probe --timeout 3 --subscribe --auth-token "$PT")
[ "$(jf "$out" .error_code)" = 1 ] || die "publish token allowed a SUBSCRIBE: $out"
rc=0
timeout 10 "$PUB" --plaintext --auth-token "$SA" "$A" 2>"$TMP/pub_sub_token.log" || rc=$?
grep -q "refused PUBLISH_NAMESPACE: UNAUTHORIZED" "$TMP/pub_sub_token.log" ||
	{ cat "$TMP/pub_sub_token.log" >&2; die "subscribe token allowed a PUBLISH_NAMESPACE over the live namespace (exit $rc)"; }
grep -q "replaces the publisher" "$TMP/relay.log" && die "a subscribe-token peer replaced the publisher"
out=$(probe --timeout 3 --subscribe)
[ "$(jf "$out" .closed)" = true ] && [ "$(jf "$out" .close_code)" = 2 ] || die "no token: session not closed UNAUTHORIZED: $out"
log "roles: publish token cannot SUBSCRIBE, subscribe token cannot PUBLISH_NAMESPACE (UNAUTHORIZED 0x1); no token: closed UNAUTHORIZED (0x2)"

# --- SIGHUP: the subscribe token changes
sleep 1
cat >"$CONF" <<EOT
plaintext = true
publish-token = $PT
subscribe-token = $SB
auth-token = $AT
EOT
kill -HUP "$RELAY"
t0=$(date +%s%N)
wait_for 3 grep -q "no longer allows what it does" "$TMP/relay.log" || { tail "$TMP/relay.log" >&2; die "no revocation after SIGHUP"; }
wait_exit "$VICTIM" 6 "revoked subscriber"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -ge 800 ] || die "revoked subscriber closed $ms ms after SIGHUP, before the 1 s drain timeout"
out=$(cat "$TMP/victim.json")
log "revoked: $out"
[ "$(jf "$out" .objects)" -gt 50 ] || die "revoked subscriber got no objects before the reload: $out"
[ "$(jf "$out" .goaway)" = true ] || die "revoked subscriber got no GOAWAY: $out"
[ "$(jf "$out" .closed)" = true ] && [ "$(jf "$out" .close_code)" = 16 ] ||
	die "revoked subscriber not closed with GOAWAY_TIMEOUT (0x10): $out"
n=$(grep -c "no longer allows what it does" "$TMP/relay.log")
[ "$n" = 1 ] || die "$n sessions revoked (want 1: the publisher's token still validates)"
kill -0 "$PUB1" || die "the publisher was closed although its token still validates"
out=$(probe --timeout 2 --subscribe --auth-token "$SB")
[ "$(jf "$out" .sub_ok)" = true ] && [ "$(jf "$out" .objects)" -gt 0 ] || die "new subscribe token: $out"
out=$(probe --timeout 2 --subscribe --auth-token "$AT")
[ "$(jf "$out" .sub_ok)" = true ] && [ "$(jf "$out" .objects)" -gt 0 ] || die "--auth-token after reload: $out"
# a REGISTER token in SETUP counts as USE_VALUE (the relay has no token cache)
out=$(probe --timeout 2 --subscribe --auth-token "$SB" --auth-register)
[ "$(jf "$out" .sub_ok)" = true ] || die "REGISTER token in SETUP not taken as USE_VALUE: $out"
out=$(probe --timeout 2 --subscribe --auth-token "$SA")
[ "$(jf "$out" .closed)" = true ] && [ "$(jf "$out" .close_code)" = 2 ] || die "old subscribe token still admitted: $out"
log "SIGHUP: the subscriber with the old token got GOAWAY and GOAWAY_TIMEOUT (0x10) after the drain; the publisher stayed; new token and --auth-token subscribe"

# --- a publish-authorized peer replaces the live namespace's publisher, logged
start_pub pub2 local --plaintext --auth-token "$PT" --rate 100 "$A"
wait_for 5 grep -q "replaces the publisher" "$TMP/relay.log" || { tail "$TMP/relay.log" >&2; die "replacement not logged"; }
grep "replaces the publisher" "$TMP/relay.log" | grep -q "publish-authorized" || die "replacement log does not say the peer is publish-authorized"
out=$(probe --timeout 2 --subscribe --auth-token "$SB")
[ "$(jf "$out" .sub_ok)" = true ] && [ "$(jf "$out" .objects)" -gt 0 ] || die "after the replacement: $out"
log "a publish-token peer replaced the namespace's publisher (logged); subscribers follow it"

kill -0 "$RELAY" || die "relay died"
kill "$RELAY"
rc=0
wait "$RELAY" || rc=$?
[ "$rc" = 0 ] || die "relay exit $rc after SIGTERM"
log "PASS relay_auth_roles"
