#!/usr/bin/env bash
# A relay chain with authorization: publisher -> relay A -> relay B ->
# subscribers. Relay B runs in the relay namespace on port 4444 with
# --upstream 127.0.0.1:4443 (relay A); tracks not published at B are
# subscribed through A. Both relays require an AUTHORIZATION TOKEN; B
# presents it upstream.
#  - 3 subscribers at B: byte-exact, B subscribes upstream once, A sees one
#    subscriber (B);
#  - a subscriber with a wrong token is refused (session closed,
#    moq-sub exit 3) and the others are unaffected;
#  - TLS chain: same with certificates (B verifies A with --upstream-ca).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 3

TOK=chain-secret-$$
sip() { local v=RELAY_IP4_SUB_$1; echo "${!v}:4444"; }

round() { # name mode-args-relayA -- mode-args-relayB -- client-args
	local name=$1
	shift
	local a=() b=() c=()
	while [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	while [ "$1" != -- ]; do b+=("$1"); shift; done
	shift
	c=("$@")
	start_relay "$name-A" relay --listen 0.0.0.0:4443 --log-level info --stats-interval 0 --auth-token "$TOK" "${a[@]}"
	local A=$RELAY_PID
	start_relay "$name-B" relay --listen 0.0.0.0:4444 --log-level info --stats-interval 0 --auth-token "$TOK" \
		--upstream 127.0.0.1:4443 "${b[@]}"
	local RB=$RELAY_PID
	wait_for 5 grep -q "upstream.*session ready\|session ready (upstream)" "$TMP/$name-B.log" ||
		{ tail "$TMP/$name-B.log" >&2; die "$name: relay B did not connect to relay A"; }
	start_pub "$name-pub" pub "${c[@]}" --auth-token "$TOK" --rate 200 --objects-per-group 25 "$RELAY_IP4:4443"
	wait_announce "$name-A"
	local pids=() i
	for i in 1 2 3; do
		start_sub "$name-s$i" "sub$i" "${c[@]}" --auth-token "$TOK" --count 600 "$(sip $i)"
		pids+=("$SUB_PID")
	done
	local rc=0
	wt_client_args "${c[@]}" --auth-token wrong --count 1 --json --quiet "$(sip 1)"
	on sub1 "$SUB" "${WT_ARGS[@]}" >/dev/null 2>"$TMP/$name-bad.log" || rc=$?
	[ $rc = 3 ] || die "$name: subscriber with a wrong token: exit $rc (want 3, refused): $(cat "$TMP/$name-bad.log")"
	for p in "${pids[@]}"; do wait_exit "$p" 20 "$name subscriber"; done
	for i in 1 2 3; do expect_intact "$name-s$i"; done
	[ "$(grep -c -- "--test: subscribing upstream" "$TMP/$name-B.log")" = 1 ] || die "$name: relay B subscribed upstream more than once"
	[ "$(grep -c -- "--test: subscribing upstream" "$TMP/$name-A.log")" = 1 ] || die "$name: relay A subscribed to the publisher more than once"
	[ "$(grep -c -- "--test: subscriber " "$TMP/$name-A.log")" = 1 ] || die "$name: relay A should see exactly one subscriber (relay B)"
	grep -q "UNAUTHORIZED" "$TMP/$name-B.log" || die "$name: relay B did not log the UNAUTHORIZED close"
	# the client MUST send the URI's authority (draft-18 AUTHORITY)
	grep -q 'authority "127.0.0.1:4443"' "$TMP/$name-A.log" || die "$name: relay B sent no AUTHORITY upstream"
	stop "$PUB_PID"
	stop "$RB"
	stop "$A"
	log "$name: publisher -> A -> B -> 3 subscribers byte-exact; wrong token refused"
}

round plain --plaintext -- --plaintext -- --plaintext
mkcert "$TMP/cert"
C=$TMP/cert
round tls --cert "$C/cert.pem" --key "$C/key.pem" -- --cert "$C/cert.pem" --key "$C/key.pem" --upstream-ca "$C/cert.pem" \
	-- --ca "$C/cert.pem" --sni localhost
log "PASS relay_chain"
