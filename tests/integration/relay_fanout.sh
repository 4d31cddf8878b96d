#!/usr/bin/env bash
# moq-relayd fan-out on the netns testbed (publisher -> relay -> N
# subscribers), byte-exact:
#  - plaintext: 1 subscriber, then 8 subscribers of one upstream
#    subscription (the relay must subscribe upstream once);
#  - TLS (self-signed certificate from certtool): 8 subscribers;
#  - two tracks (stream + datagram track) at once to one subscriber.
# Every moq-sub must report objects_missing 0 and integrity_errors 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 8

N=600 # objects per subscriber (200/s: 3 s)
# one subgroup per group: with several, the subscriber's --count can stop while
# the last object of another subgroup stream is still in flight (counted missing)
PUBARGS=(--rate 200 --object-size 1000 --objects-per-group 20)

run_round() { # mode-name nsubs relay-args... -- client-args...
	local name=$1 n=$2 i
	shift 2
	local rargs=() cargs=()
	while [ "$1" != -- ]; do rargs+=("$1"); shift; done
	shift
	cargs=("$@")
	start_relay "$name-relay" relay --listen 0.0.0.0:4443 --log-level info --stats-interval 1 "${rargs[@]}"
	start_pub "$name-pub" pub "${cargs[@]}" "${PUBARGS[@]}" --track test --datagram-track dg "$RELAY_IP4:4443"
	wait_announce "$name-relay"
	local pids=()
	for i in $(seq 1 "$n"); do
		local ip=RELAY_IP4_SUB_$i
		start_sub "$name-sub$i" "sub$i" "${cargs[@]}" --count $N --connect-timeout 5 "${!ip}:4443"
		pids+=("$SUB_PID")
	done
	for p in "${pids[@]}"; do
		timeout 30 tail --pid="$p" -f /dev/null || die "$name: a subscriber did not finish in 30 s"
	done
	for i in $(seq 1 "$n"); do expect_intact "$name-sub$i"; done
	local ups
	ups=$(grep -c -- "--test: subscribing upstream" "$TMP/$name-relay.log" || true)
	[ "$ups" = 1 ] || grep -- "upstream\|ended" "$TMP/$name-relay.log" >&2
	[ "$ups" = 1 ] || die "$name: relay subscribed upstream $ups times for one track (want 1)"
	stop "$PUB_PID"
	stop "$RELAY_PID"
	log "$name: $n subscriber(s) byte-exact, one upstream subscription"
}

run_round plain1 1 --plaintext -- --plaintext
run_round plain8 8 --plaintext -- --plaintext
mkcert "$TMP/cert"
run_round tls8 8 --cert "$TMP/cert/cert.pem" --key "$TMP/cert/key.pem" -- --ca "$TMP/cert/cert.pem" --sni localhost

# two tracks to one subscriber: the stream track and the datagram track
start_relay two-relay relay --listen 0.0.0.0:4443 --plaintext --stats-interval 0 --log-level info
start_pub two-pub pub --plaintext "${PUBARGS[@]}" --track test --datagram-track dg "$RELAY_IP4:4443"
wait_announce two-relay
start_sub two-sub sub1 --plaintext --track test --track dg --duration 3 "$RELAY_IP4_SUB_1:4443"
timeout 20 tail --pid="$SUB_PID" -f /dev/null || die "two tracks: subscriber did not finish"
f=$TMP/two-sub.json
[ "$(jget "$f" '.tracks[0].objects_received')" -gt 100 ] || { cat "$f"; die "two tracks: stream track starved"; }
[ "$(jget "$f" '.tracks[1].objects_received')" -gt 100 ] || { cat "$f"; die "two tracks: datagram track starved"; }
[ "$(jget "$f" .integrity_errors)" = 0 ] || { cat "$f"; die "two tracks: integrity errors"; }
log "two tracks (subgroup streams + datagrams) through the relay: ok"
log "PASS relay_fanout"
