#!/usr/bin/env bash
# moq-relayd structured logs (docs/operating.md "Logs"), on 127.0.0.1 (no
# testbed):
#  - --log-format xml (option or config key) stops the start with a message
#    that names the value and the choices, exit 2;
#  - --log-format json --log-level info: every stderr line is one JSON object
#    with ts/level/module/msg; lines about a session carry session (the "#N"
#    of the session's name) and peer (its address); lines about a track
#    carry track: a publisher's PUBLISH_NAMESPACE, a subscriber's accepted
#    SUBSCRIBE, a SUBSCRIBE to a missing track, and the session layer's own
#    PROTOCOL_VIOLATION line for a malformed SUBSCRIBE (moq-relay-probe
#    --garbage); lines about no session (listening, stats) have none;
#  - --qlog-dir writes one qlog file per connection;
#  - SIGHUP with log-format = text in the config file switches to text lines
#    that end in " session=N peer=ADDR".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
[ -x "$PROBE" ] || die "build $PROBE first (make all)"

PORT=$((20000 + $$ % 20000))
A=127.0.0.1:$PORT

# --- misconfiguration fails at start, with the value and the choices
rc=0
out=$("$RELAYD" --plaintext --listen "$A" --log-format xml 2>&1) || rc=$?
[ $rc = 2 ] || die "--log-format xml: exit $rc (want 2): $out"
grep -q "^moq-relayd: --log-format: 'xml' is not text or json$" <<<"$out" ||
	die "--log-format xml: unclear message: $out"
printf 'plaintext = true\nlog-format = XML\n' >"$TMP/bad.conf"
rc=0
out=$("$RELAYD" --config "$TMP/bad.conf" --listen "$A" 2>&1) || rc=$?
[ $rc = 2 ] && grep -q "bad.conf:2: --log-format: 'XML' is not text or json" <<<"$out" ||
	die "log-format = XML in the config file: exit $rc, message: $out"
log "--log-format xml refused at start (exit 2, names the value and text|json)"

# --- JSON lines with context
mkdir "$TMP/qlog"
printf 'plaintext = true\nlog-format = json\nlog-level = info\n' >"$TMP/relay.conf"
start_relay relay local --config "$TMP/relay.conf" --listen "$A" --stats-interval 1 \
	--ctl-socket none --qlog-dir "$TMP/qlog" --drain-timeout 0.5
RELAY=$RELAY_PID
start_pub pub local --plaintext --rate 100 --track t1 "$A"
wait_announce relay
start_sub sub1 local --plaintext --count 30 --track t1 "$A"
wait_exit "$SUB_PID" 10 "sub1"
expect_intact sub1
rc=0
"$SUB" --plaintext --json --quiet --duration 1 --namespace nons --track nope "$A" \
	>"$TMP/sub2.json" 2>"$TMP/sub2.log" || rc=$?
grep -q "refused" "$TMP/sub2.log" || { cat "$TMP/sub2.log" >&2; die "SUBSCRIBE to a missing track not refused (exit $rc)"; }
pr=$("$PROBE" --plaintext --garbage --timeout 3 "$A")
[ "$(jq .close_code <<<"$pr")" = 3 ] || die "probe --garbage: not closed with PROTOCOL_VIOLATION: $pr"
wait_for 3 grep -q '"module":"stats"' "$TMP/relay.log" || die "no stats line within 3 s"
kill -0 "$RELAY" || die "relay died"

L=$TMP/relay.log
# one jq over all lines: each must parse and have the keys with their types
bad=$(jq -R -c '. as $raw | (try fromjson catch null) as $v |
	if ($v | type == "object") and ($v.ts | type == "string" and
		test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"))
		and ($v.level | IN("error", "warn", "info", "debug")) and ($v.module | type == "string")
		and ($v.msg | type == "string")
		and (($v | has("session") | not) or ($v.session | type == "number" and . > 0))
		and (($v | has("peer") | not) or ($v.peer | type == "string" and test("^[0-9.]+:[0-9]+$")))
		and (($v | has("track") | not) or ($v.track | type == "string" and length > 0))
	then empty else $raw end' "$L")
[ -z "$bad" ] || die "relay log lines that are not log objects: $bad"
n=$(wc -l <"$L")
[ "$n" -ge 10 ] || die "only $n log lines"
log "$n stderr lines, each one JSON object with ts (RFC 3339, µs), level, module, msg"

# the one line matching jq filter SEL (a select(...) body) -> that line
one() {
	local got
	got=$(jq -c "select($1)" "$L")
	[ -n "$got" ] || { cat "$L" >&2; die "no relay log line with $1"; }
	head -1 <<<"$got"
}
# session and peer present, session = the #N of the session name in msg
has_session() { # LINE WHAT
	jq -e 'has("session") and has("peer") and ((.msg | test("#[0-9]+ ") | not) or
		((.msg | capture("#(?<n>[0-9]+) ").n | tonumber) == .session))' \
		<<<"$1" >/dev/null || die "$2: no session/peer or a session number other than in msg: $1"
}

l=$(one '.msg | test("publishes namespace")')
has_session "$l" "PUBLISH_NAMESPACE line"
[ "$(jq -r .track <<<"$l")" = moq.2dpub ] || die "PUBLISH_NAMESPACE line: track is not the namespace: $l"
pub_sess=$(jq .session <<<"$l")

l=$(one '.msg | test("subscriber .* alias")')
has_session "$l" "accepted SUBSCRIBE"
[ "$(jq -r .track <<<"$l")" = moq.2dpub--t1 ] || die "accepted SUBSCRIBE: track missing or wrong: $l"
[ "$(jq .session <<<"$l")" != "$pub_sess" ] || die "accepted SUBSCRIBE carries the publisher's session: $l"

l=$(one '.msg | test("no publisher")')
has_session "$l" "SUBSCRIBE to a missing track"
[ "$(jq -r .track <<<"$l")" = nons--nope ] || die "missing track: track key wrong: $l"

l=$(one '.module == "session" and (.msg | test("PROTOCOL_VIOLATION"))')
has_session "$l" "session layer's PROTOCOL_VIOLATION"
jq -e 'has("track") | not' <<<"$l" >/dev/null || die "malformed SUBSCRIBE: a track where none was decoded: $l"

for sel in '.msg | test("listening on")' '.module == "stats"'; do
	l=$(one "$sel")
	jq -e 'has("session") or has("peer") or has("track") | not' <<<"$l" >/dev/null ||
		die "a line about no session carries context: $l"
done
log "session/peer/track present where the relay handles a session or track, absent elsewhere"

nq=$(find "$TMP/qlog" -name '*.sqlog' | wc -l)
[ "$nq" -ge 4 ] || die "--qlog-dir: $nq qlog files for 4 connections"
log "--qlog-dir: $nq qlog files"

# --- SIGHUP switches the format
printf 'plaintext = true\nlog-format = text\nlog-level = info\n' >"$TMP/relay.conf"
kill -HUP "$RELAY"
wait_for 3 grep -q "^warn relayd: SIGHUP: reloaded" "$L" || { tail -5 "$L" >&2; die "SIGHUP: no text line after log-format = text"; }
start_sub sub3 local --plaintext --count 10 --track t1 "$A"
wait_exit "$SUB_PID" 10 "sub3"
wait_for 3 grep -qE "^info relayd: .*session ready session=[0-9]+ peer=127\.0\.0\.1:[0-9]+$" "$L" ||
	{ tail -20 "$L" >&2; die "text line of a session without session=/peer="; }
grep -qE "^info relayd: track moq.2dpub--t1: subscriber .* session=[0-9]+ peer=127\.0\.0\.1:[0-9]+ track=moq.2dpub--t1$" "$L" ||
	{ tail -20 "$L" >&2; die "text line of an accepted SUBSCRIBE without track="; }
log "SIGHUP: log-format = text applies; text lines end in session=N peer=ADDR [track=NAME]"
stop "$RELAY"
log "PASS relay_logs"
