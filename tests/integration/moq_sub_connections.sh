#!/usr/bin/env bash
# moq-sub --connections N on the netns testbed (publisher -> relay -> one
# moq-sub process with N sessions):
#  - 64 connections through the relay, each its own QUIC connection and UDP
#    socket (the relay sees 64 client ports), each byte-exact; the summary's
#    totals are the sums of per_connection and connections_ok is 64;
#  - connections that cannot connect are counted: 3 connections to a port
#    with no server exit 3 with connections_ok 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 1

CONNS=64
N=400 # objects per connection (200/s: 2 s)
start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0
start_pub pub pub --plaintext --rate 200 --object-size 1000 --objects-per-group 20 "$RELAY_IP4:4443"
wait_announce relay

start_sub many sub1 --plaintext --connections $CONNS --count $N --connect-timeout 10 "$RELAY_IP4_SUB_1:4443"
wait_exit "$SUB_PID" 60 "moq-sub --connections $CONNS"
f=$TMP/many.json
expect_intact many
[ "$(jget "$f" .exit_code)" = 0 ] || { cat "$f"; die "exit_code $(jget "$f" .exit_code), want 0"; }
[ "$(jget "$f" .connections)" = $CONNS ] || die "connections $(jget "$f" .connections), want $CONNS"
[ "$(jget "$f" .connections_ok)" = $CONNS ] || { jq -c .per_connection "$f"; die "connections_ok $(jget "$f" .connections_ok), want $CONNS"; }
[ "$(jget "$f" '.per_connection | length')" = $CONNS ] || die "per_connection has $(jget "$f" '.per_connection | length') entries"
bad=$(jq "[.per_connection[] | select(.objects_received < $N or .objects_missing != 0 or .integrity_errors != 0)] | length" "$f")
[ "$bad" = 0 ] || { jq -c .per_connection "$f"; die "$bad connections short of $N intact objects"; }
[ "$(jget "$f" .objects_received)" = "$(jq '[.per_connection[].objects_received] | add' "$f")" ] ||
	die "objects_received is not the sum over the connections"
[ "$(jget "$f" .latency_us.p50)" != 0 ] || die "no latency over the connections"
ports=$( (grep -o "peer $SUB_IP4_1:[0-9]*" "$TMP/relay.log" || true) | sort -u | wc -l)
[ "$ports" -ge $CONNS ] || { grep -c session "$TMP/relay.log"; die "the relay saw $ports client ports, want $CONNS"; }
stop "$PUB_PID"
stop "$RELAY_PID"
log "$CONNS connections in one moq-sub: $(jget "$f" .objects_received) objects, all intact, $ports client ports"

# nothing listens on 4999: every connection fails and is counted
start_sub none sub1 --plaintext --connections 3 --count 10 --connect-timeout 1 "$RELAY_IP4_SUB_1:4999"
wait_exit "$SUB_PID" 20 "moq-sub --connections 3 (no server)"
f=$TMP/none.json
[ "$(jget "$f" .exit_code)" = 3 ] || { cat "$f"; die "no server: exit_code $(jget "$f" .exit_code), want 3"; }
[ "$(jget "$f" .connections_ok)" = 0 ] || die "no server: connections_ok $(jget "$f" .connections_ok), want 0"
[ "$(jq '[.per_connection[] | select(.exit_code == 3)] | length' "$f")" = 3 ] || { cat "$f"; die "no server: per-connection exit codes"; }
log "connections that fail are counted per connection"
log "PASS moq_sub_connections"
