#!/usr/bin/env bash
# moq-relayd operator basics, on 127.0.0.1 (no testbed):
#  - --help documents every option; --fast-path on without attached
#    programs (plaintext or TLS) fails at start saying what to do;
#    misconfiguration fails with a message naming the fix;
#  - config file: unknown key -> error naming file and line; values apply;
#    the command line overrides the file;
#  - a stats line per --stats-interval;
#  - SIGHUP re-reads the config file (log level change shows);
#  - --auth-token: a subscriber without the token is closed UNAUTHORIZED.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check

help=$("$RELAYD" --help)
for o in listen plaintext cert key upstream upstream-ca upstream-insecure cache-groups cache-bytes \
	sub-queue-bytes log-level auth-token auth-token-file stats-interval drain-timeout idle-timeout \
	fast-path bpf-pin-dir heartbeat-timeout config help version max-sessions max-subscriptions \
	max-tracks max-name-bytes max-namespace-fields max-request-rate; do
	grep -q -- "--$o" <<<"$help" || die "--help does not document --$o"
done
fails() { # expected-text args...
	local want=$1 out rc=0
	shift
	out=$("$RELAYD" "$@" 2>&1) || rc=$?
	[ $rc = 2 ] || die "moq-relayd $*: exit $rc (want 2)"
	grep -q -- "$want" <<<"$out" || die "moq-relayd $*: message '$out' lacks '$want'"
}
# TLS with the fast path is a valid configuration (issue 19): it gets as far
# as the pinned maps
fails "tc filter add" --dev-cert "$TMP/dc" --fast-path on --listen 127.0.0.1:1 --bpf-pin-dir "$TMP/no-pins"
fails "tc filter add" --plaintext --fast-path on --listen 127.0.0.1:1 --bpf-pin-dir "$TMP/no-pins"
fails "--cert" --listen 127.0.0.1:1
fails "cache-grops" --plaintext --cache-grops 3
fails "--listen" --plaintext --listen nowhere
fails "--upstream" --plaintext --upstream http://x:1
fails "--max-name-bytes must be 1..4096" --plaintext --max-name-bytes 5000
printf 'plaintext = true\n# comment\nstats-intervall = 3\n' >"$TMP/bad.conf"
fails "$TMP/bad.conf:3:" --config "$TMP/bad.conf"
log "--help complete; misconfiguration fails at start with what to fix"

PORT=$((20000 + $$ % 20000))
cat >"$TMP/r.conf" <<EOT
plaintext = true
listen = 127.0.0.1:$PORT
log-level = warn
stats-interval = 0.5
auth-token = tok$$
EOT
start_relay relay local --config "$TMP/r.conf" --cache-groups 4
wait_for 3 grep -q "^moq-relayd: stats sessions=" "$TMP/relay.log" || die "no stats line within 3 s"
log "stats line: $(grep '^moq-relayd: stats' "$TMP/relay.log" | tail -1 | cut -c1-100)..."

rc=0
"$SUB" --plaintext --count 1 --json --quiet "127.0.0.1:$PORT" >/dev/null 2>"$TMP/noauth.log" || rc=$?
[ $rc = 3 ] || die "subscriber without the token: exit $rc (want 3)"
grep -q "UNAUTHORIZED" "$TMP/relay.log" || die "subscriber without token: relay did not close it UNAUTHORIZED: $(cat "$TMP/noauth.log")"
start_pub pub local --plaintext --auth-token "tok$$" --rate 100 "127.0.0.1:$PORT"
sleep 0.5
start_sub s local --plaintext --auth-token "tok$$" --count 100 "127.0.0.1:$PORT"
wait_exit "$SUB_PID" 10 "subscriber with the token"
expect_intact s
log "auth token: missing -> closed UNAUTHORIZED, right token -> byte-exact"

sed -i 's/log-level = warn/log-level = info/' "$TMP/r.conf"
kill -HUP "$RELAY_PID"
wait_for 3 grep -q "reloaded" "$TMP/relay.log" || die "SIGHUP: no reload logged"
start_sub s2 local --plaintext --auth-token "tok$$" --count 50 "127.0.0.1:$PORT"
wait_exit "$SUB_PID" 10 "subscriber after reload"
grep -q "^info relayd" "$TMP/relay.log" || die "SIGHUP: log-level = info from the file did not apply"
printf 'bogus = 1\n' >>"$TMP/r.conf"
kill -HUP "$RELAY_PID"
wait_for 3 grep -q "config not reloaded" "$TMP/relay.log" || die "SIGHUP with a bad file: no error logged"
kill -0 "$RELAY_PID" || die "relay exited on a bad reload"
log "SIGHUP: config re-read (log level applied); a bad file is refused and the relay keeps running"
log "PASS relay_cli"
