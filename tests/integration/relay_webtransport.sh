#!/usr/bin/env bash
# moq-relayd over WebTransport on the netns testbed (docs/webtransport.md):
#  - one UDP port, both ALPNs: a publisher over WebTransport
#    (https://RELAY:4443/live) -> relay -> 3 WebTransport subscribers and 1
#    native QUIC subscriber, all byte-exact, one upstream subscription;
#  - a datagram track over WebTransport (quarter-stream-ID prefix) arrives
#    intact;
#  - auth: a WebTransport subscriber without the subscribe token is closed
#    with UNAUTHORIZED, with it it plays;
#  - --dev-cert: the relay makes its certificate, a WebTransport client
#    trusts it with --ca DIR/cert.pem or pins it with --cert-hash (no
#    name check, as browsers); a wrong hash fails the handshake (exit 3).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 4

N=1000 # 5 s at 200/s: the metrics check below sees every session
PUBARGS=(--rate 200 --object-size 1000 --objects-per-group 20)
# the relay's certificate also names its addresses on the subscriber links
# (the edge relay below verifies it by IP, there is no --upstream-sni)
mkdir -p "$TMP/cert"
cat >"$TMP/cert/tmpl" <<-EOT
	cn = "localhost"
	dns_name = "localhost"
	ip_address = "127.0.0.1"
	ip_address = "$RELAY_IP4"
	$(for i in 1 2 3 4; do v=RELAY_IP4_SUB_$i; echo "ip_address = \"${!v}\""; done)
	ca
	cert_signing_key
	signing_key
	tls_www_server
	expiration_days = 2
EOT
certtool --generate-privkey --key-type=ecdsa --outfile "$TMP/cert/key.pem" 2>/dev/null
certtool --generate-self-signed --load-privkey "$TMP/cert/key.pem" --template "$TMP/cert/tmpl" \
	--outfile "$TMP/cert/cert.pem" 2>/dev/null
[ -s "$TMP/cert/cert.pem" ] || die "certtool could not make a certificate"
CERT=(--cert "$TMP/cert/cert.pem" --key "$TMP/cert/key.pem")
TRUST=(--ca "$TMP/cert/cert.pem" --sni localhost)

# ---- fan-out: WT publisher, 3 WT subscribers + 1 native --------------------
MPORT=9464
start_relay fan-relay relay --listen 0.0.0.0:4443 --log-level info --stats-interval 0 "${CERT[@]}" \
	--metrics-listen 127.0.0.1:$MPORT --ctl-socket "$TMP/ctl.sock"
start_pub fan-pub pub "${TRUST[@]}" "${PUBARGS[@]}" --track test --datagram-track dg "https://$RELAY_IP4:4443/live"
wait_announce fan-relay
pids=()
for i in 1 2 3; do
	ip=RELAY_IP4_SUB_$i
	start_sub "fan-sub$i" "sub$i" "${TRUST[@]}" --count $N --connect-timeout 5 "https://${!ip}:4443/live"
	pids+=("$SUB_PID")
done
start_sub fan-sub4 sub4 "${TRUST[@]}" --count $N --connect-timeout 5 "$RELAY_IP4_SUB_4:4443"
pids+=("$SUB_PID")
# while they play: 5 sessions, 4 of them over WebTransport (pub + 3 subs)
m() { awk -v s="$1" '$1 == s { print $2 }' "$TMP/m.raw"; }
five_four() {
	on relay python3 "$ROOT/tests/integration/metrics/scrape.py" -o "$TMP/m.raw" -D "$TMP/m.hdr" \
		"http://127.0.0.1:$MPORT/metrics" >/dev/null &&
		[ "$(m moq_relay_sessions)" = 5 ] && [ "$(m moq_relay_webtransport_sessions)" = 4 ]
}
wait_for 5 five_four ||
	{ grep -E '^moq_relay_(webtransport_)?sessions ' "$TMP/m.raw" >&2; die "want 5 sessions, 4 over WebTransport"; }
# the control socket says the same, per session
CTL=$ROOT/$B/bin/moq-relayctl
js=$(on relay "$CTL" --socket "$TMP/ctl.sock" subscribers --json) || die "moq-relayctl subscribers failed"
[ "$(jq '[.daemon.sessions[]? // .sessions[] | select(.transport == "webtransport")] | length' <<<"$js")" = 3 ] &&
	[ "$(jq '[.daemon.sessions[]? // .sessions[] | select(.transport == "quic")] | length' <<<"$js")" = 1 ] ||
	{ echo "$js" >&2; die "relayctl: want 3 webtransport + 1 quic subscriber sessions"; }
for p in "${pids[@]}"; do wait_exit "$p" 30 "a subscriber"; done
for i in 1 2 3 4; do expect_intact "fan-sub$i"; done
ups=$(grep -c -- "--test: subscribing upstream" "$TMP/fan-relay.log" || true)
[ "$ups" = 1 ] || die "relay subscribed upstream $ups times for one track (want 1)"
n_wt=$(grep -c 'authorized to publish+subscribe (path "/live"' "$TMP/fan-relay.log" || true)
[ "$n_wt" = 4 ] || { grep authorized "$TMP/fan-relay.log" >&2; die "want 4 sessions with the CONNECT path /live (pub + 3 subs), got $n_wt"; }
log "fan-out: WT publisher -> relay -> 3 WT + 1 native subscribers byte-exact, one upstream subscription"

# ---- datagrams over WebTransport ------------------------------------------------
start_sub dg-sub sub1 "${TRUST[@]}" --track dg --duration 2 "https://$RELAY_IP4_SUB_1:4443/live"
wait_exit "$SUB_PID" 15 "the datagram subscriber"
f=$TMP/dg-sub.json
[ "$(jget "$f" '.tracks[0].datagrams')" -gt 100 ] || { cat "$f"; die "datagram track over WT starved"; }
[ "$(jget "$f" .integrity_errors)" = 0 ] || { cat "$f"; die "datagram track over WT: integrity errors"; }
log "datagram track over WebTransport: $(jget "$f" '.tracks[0].datagrams') intact datagrams"
# ---- a relay chain over WebTransport ----------------------------------------------
# an edge relay on sub1's host subscribes through the relay over WebTransport
FAN_RELAY_PID=$RELAY_PID
start_relay edge-relay sub1 --listen 127.0.0.1:5443 --log-level info --stats-interval 0 --ctl-socket none "${CERT[@]}" \
	--upstream "https://$RELAY_IP4_SUB_1:4443/edge" --upstream-ca "$TMP/cert/cert.pem"
start_sub edge-sub sub1 --ca "$TMP/cert/cert.pem" --sni localhost --count 200 --connect-timeout 5 127.0.0.1:5443
wait_exit "$SUB_PID" 20 "the subscriber behind the edge relay"
[ "$(jget "$TMP/edge-sub.json" .objects_missing)" = 0 ] || tail -15 "$TMP/edge-relay.log" >&2
expect_intact edge-sub
grep -q 'authorized to publish+subscribe (path "/edge"' "$TMP/fan-relay.log" ||
	die "the edge relay's WebTransport session did not reach the relay with path /edge"
stop "$RELAY_PID"
log "relay chain: edge --upstream https:// (WebTransport) -> relay -> publisher, byte-exact"
RELAY_PID=$FAN_RELAY_PID
stop "$PUB_PID"
stop "$RELAY_PID"

# ---- auth -----------------------------------------------------------------------
start_relay auth-relay relay --listen 0.0.0.0:4443 --log-level info --stats-interval 0 --ctl-socket none "${CERT[@]}" \
	--publish-token pubtok --subscribe-token subtok
start_pub auth-pub pub "${TRUST[@]}" --auth-token pubtok "${PUBARGS[@]}" --track test "https://$RELAY_IP4:4443/"
wait_announce auth-relay
start_sub auth-none sub1 "${TRUST[@]}" --count 50 --connect-timeout 5 "https://$RELAY_IP4_SUB_1:4443/"
rc=0
wait "$SUB_PID" || rc=$?
# over WebTransport the relay's SETUP reaches the client before the
# relay has read the client's (one more round trip for the CONNECT), so
# moq-sub sees "ready, then closed": exit 1 (objects missing), not 3
[ "$rc" != 0 ] || { cat "$TMP/auth-none.log" >&2; die "WT subscriber without token: exit 0"; }
grep -q 'missing or wrong authorization token, closing (UNAUTHORIZED)' "$TMP/auth-relay.log" ||
	{ cat "$TMP/auth-relay.log" >&2; die "the relay did not close the WT subscriber with UNAUTHORIZED"; }
start_sub auth-ok sub2 "${TRUST[@]}" --auth-token subtok --count 50 --connect-timeout 5 "https://$RELAY_IP4_SUB_2:4443/"
wait_exit "$SUB_PID" 15 "the WT subscriber with token"
expect_intact auth-ok
stop "$PUB_PID"
stop "$RELAY_PID"
log "auth over WebTransport: no token -> UNAUTHORIZED; subscribe token -> plays"

# ---- --dev-cert -------------------------------------------------------------------
start_relay dev-relay relay --listen 0.0.0.0:4443 --log-level info --stats-interval 0 --ctl-socket none --dev-cert "$TMP/dev"
grep -q "development certificate.*sha256 $(cat "$TMP/dev/cert.sha256")" "$TMP/dev-relay.log" ||
	{ cat "$TMP/dev-relay.log" >&2; die "--dev-cert: the log does not show the certificate's SHA-256"; }
DEVTRUST=(--ca "$TMP/dev/cert.pem" --sni localhost)
start_pub dev-pub pub "${DEVTRUST[@]}" "${PUBARGS[@]}" --track test "https://$RELAY_IP4:4443/"
wait_announce dev-relay
start_sub dev-sub sub1 "${DEVTRUST[@]}" --count 100 --connect-timeout 5 "https://$RELAY_IP4_SUB_1:4443/"
wait_exit "$SUB_PID" 15 "the subscriber trusting the dev certificate"
expect_intact dev-sub
# pinned by hash (browser-style): no CA, no name check (the relay's address
# 10.77.2.1 is not in the certificate)
start_sub dev-hash sub2 --cert-hash "$(cat "$TMP/dev/cert.sha256")" --count 100 --connect-timeout 5 \
	"https://$RELAY_IP4_SUB_2:4443/"
wait_exit "$SUB_PID" 15 "the subscriber pinning the certificate's hash"
expect_intact dev-hash
bad=$(tr 0-9a-f 1-9a-f0 <"$TMP/dev/cert.sha256") # every digit changed
start_sub dev-badhash sub2 --cert-hash "$bad" --count 10 --connect-timeout 5 "https://$RELAY_IP4_SUB_2:4443/"
rc=0
wait "$SUB_PID" || rc=$?
[ "$rc" = 3 ] && grep -q "SHA-256 is not the pinned one" "$TMP/dev-badhash.log" ||
	{ cat "$TMP/dev-badhash.log" >&2; die "a wrong --cert-hash: exit $rc (want 3 and the reason)"; }
stop "$PUB_PID"
stop "$RELAY_PID"
log "--dev-cert: certificate made, its SHA-256 logged; WT clients trust it with --ca, or pin it with --cert-hash (a wrong hash fails)"
log "PASS relay_webtransport"
