#!/usr/bin/env bash
# Half-open sessions must not lock real clients out (issue 17 finding 4),
# on 127.0.0.1 (no testbed). Clients that send an Initial and never finish
# the handshake (relay/quic_flood.py replays captured Initials from sockets
# that never answer, as spoofed Initials would) while a real subscriber
# connects:
#  - plaintext, --max-sessions 4 (default --max-handshakes 100): 120
#    half-open handshakes (the relay answers every one: it keeps state) do
#    not count as sessions, and beyond 100 the oldest are evicted; a real
#    subscriber still connects and receives every object. Before, each
#    half-open one counted against --max-sessions from its first Initial and
#    the subscriber was refused with CONNECTION_REFUSED.
#  - TLS, --max-sessions 4 --max-handshakes 8: 12 half-open clients; from
#    4 (half the cap) on the relay answers with Retry and keeps no state
#    (at most 4 get Handshake packets, the rest a Retry); a real subscriber
#    gets a Retry too (its qlog shows it), answers it and connects.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
FLOOD=$ROOT/tests/integration/relay/quic_flood.py

PA=$((20000 + $$ % 20000))
PB=$((PA + 1))
PC=$((PA + 2)) # capture port: the flood's clients talk to nobody here

# flood NAME COUNT RELAY-PORT [--rewrite-dcid] -- CLIENT-ARGS...: start the
# flood and its capture clients; returns once the replays are sent
flood() {
	local name=$1 count=$2 port=$3 rw=() i ncap
	shift 3
	[ "$1" = --rewrite-dcid ] && { rw=(--rewrite-dcid); shift; }
	shift # --
	rm -f "$TMP/$name.ready"
	python3 "$FLOOD" --capture-port "$PC" --count "$count" --relay "127.0.0.1:$port" \
		"${rw[@]}" --listen 3 --ready-file "$TMP/$name.ready" \
		>"$TMP/$name.json" 2>"$TMP/$name.log" &
	FLOOD_PID=$!
	_PIDS+=("$FLOOD_PID")
	wait_for 5 grep -q capturing "$TMP/$name.log" || die "$name: flood did not start"
	ncap=$count
	[ ${#rw[@]} = 0 ] || ncap=1
	for i in $(seq "$ncap"); do
		timeout 3 "$SUB" --quiet --duration 1 --track t1 "$@" "127.0.0.1:$PC" \
			>/dev/null 2>&1 &
		_PIDS+=("$!")
	done
	wait_for 12 test -e "$TMP/$name.ready" ||
		{ cat "$TMP/$name.log" >&2; die "$name: no Initials captured/replayed"; }
}
flood_wait() { # NAME: the flood's summary is in $TMP/NAME.json
	wait "$FLOOD_PID" || true
	[ -s "$TMP/$1.json" ] || { cat "$TMP/$1.log" >&2; die "$1: no flood summary"; }
}

# --- plaintext: half-open handshakes are not sessions
start_relay relayP local --listen "127.0.0.1:$PA" --plaintext --log-level info --stats-interval 0 \
	--ctl-socket none --drain-timeout 1 --max-sessions 4
start_pub pubP local --plaintext --rate 100 --track t1 "127.0.0.1:$PA"
wait_announce relayP
flood floodP 120 "$PA" --rewrite-dcid -- --plaintext
start_sub realP local --plaintext --count 50 --track t1 --connect-timeout 5 "127.0.0.1:$PA"
wait_exit "$SUB_PID" 15 "the plaintext subscriber during the flood"
grep -q "handshake refused" "$TMP/realP.log" &&
	{ cat "$TMP/realP.log" >&2; die "plaintext: the real subscriber was refused during the flood"; }
expect_intact realP
flood_wait floodP
hs=$(jq -r .handshake "$TMP/floodP.json")
[ "$hs" -ge 100 ] || { cat "$TMP/floodP.json" >&2; die "plaintext: the relay kept state for only $hs of 120 flood handshakes"; }
grep -q "handshake cap reached" "$TMP/relayP.log" ||
	{ tail "$TMP/relayP.log" >&2; die "plaintext: no eviction logged past 100 handshakes"; }
kill -0 "$RELAY_PID" || die "plaintext relay died"
log "plaintext: $hs half-open handshakes (cap 100, oldest evicted) did not keep a subscriber out of --max-sessions 4"

# --- TLS: Retry from half the handshake cap on
mkcert "$TMP/cert"
CL=(--ca "$TMP/cert/cert.pem" --sni localhost)
start_relay relayT local --listen "127.0.0.1:$PB" --cert "$TMP/cert/cert.pem" \
	--key "$TMP/cert/key.pem" --log-level info --stats-interval 0 --ctl-socket none \
	--drain-timeout 1 --max-sessions 4 --max-handshakes 8
start_pub pubT local "${CL[@]}" --rate 100 --track t1 "127.0.0.1:$PB"
wait_announce relayT
flood floodT 12 "$PB" -- "${CL[@]}"
mkdir -p "$TMP/qlog"
start_sub realT local "${CL[@]}" --qlog-dir "$TMP/qlog" --count 50 --track t1 \
	--connect-timeout 5 "127.0.0.1:$PB"
wait_exit "$SUB_PID" 15 "the TLS subscriber during the flood"
expect_intact realT
grep -q '"packet_type":"retry"' "$TMP"/qlog/*.sqlog ||
	{ ls -l "$TMP/qlog" >&2; die "TLS: the real subscriber got no Retry with the handshake cap under pressure"; }
flood_wait floodT
retry=$(jq -r .retry "$TMP/floodT.json")
hs=$(jq -r .handshake "$TMP/floodT.json")
[ "$retry" -ge 6 ] && [ "$hs" -le 4 ] && [ "$hs" -ge 1 ] ||
	{ cat "$TMP/floodT.json" >&2; die "TLS: $hs flood handshakes kept, $retry answered with Retry (want <= 4 and >= 6)"; }
grep -q "answering new clients with Retry" "$TMP/relayT.log" || die "TLS: Retry not logged"
kill -0 "$RELAY_PID" || die "TLS relay died"
log "TLS: $hs of 12 half-open clients kept state, $retry got a Retry; a real subscriber answered its Retry and connected"

for r in "$RELAY_PID"; do
	kill "$r"
	rc=0
	wait "$r" || rc=$?
	[ "$rc" = 0 ] || die "relay exit $rc after SIGTERM"
done
log "PASS relay_half_open"
