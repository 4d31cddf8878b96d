#!/usr/bin/env bash
# A slow subscriber does not slow the others. The stream is ~2.4 Mbit/s;
# sub1's link is shaped to 600 kbit/s (netns/testbed.sh shape). With
# --sub-queue-bytes 256k the relay resets sub1's oldest subgroup streams
# once it is that far behind, instead of buffering without bound.
#  - sub2..sub4: every object, byte-exact, latency p99 under 100 ms;
#  - sub1: nothing corrupt (missing objects allowed), and the relay counted
#    resets for it (stats slow_resets > 0);
#  - the publisher is never slowed: it sent at its rate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 4
tb shape sub1 600kbit >/dev/null

sip() { local v=RELAY_IP4_SUB_$1; echo "${!v}:4443"; }
start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 --sub-queue-bytes 256k
start_pub pub pub --plaintext --rate 250 --object-size 1200 --objects-per-group 25 "$RELAY_IP4:4443"
wait_announce relay
pids=()
for i in 1 2 3 4; do
	start_sub "s$i" "sub$i" --plaintext --duration 8 "$(sip $i)"
	pids+=("$SUB_PID")
done
for p in "${pids[@]}"; do wait_exit "$p" 20 subscriber; done
for i in 2 3 4; do
	expect_intact "s$i"
	p99=$(jget "$TMP/s$i.json" .latency_us.p99)
	n=$(jget "$TMP/s$i.json" .objects_received)
	awk -v p="$p99" 'BEGIN { exit !(p < 100000) }' || die "sub$i: p99 latency $p99 us while sub1 is slow"
	[ "$n" -gt 1700 ] || die "sub$i: only $n objects in 8 s at 250/s"
done
[ "$(jget "$TMP/s1.json" .integrity_errors)" = 0 ] || die "slow subscriber got corrupt objects"
n1=$(jget "$TMP/s1.json" .objects_received)
resets=$(grep -o 'slow_resets=[0-9]*' "$TMP/relay.log" | tail -1 | cut -d= -f2)
[ "${resets:-0}" -gt 0 ] || { cat "$TMP/s1.json"; grep stats "$TMP/relay.log" | tail -3; } >&2
[ "${resets:-0}" -gt 0 ] || die "no subgroup streams reset for the slow subscriber (slow_resets=${resets:-none})"
log "sub2..4 byte-exact with p99 $(jget "$TMP/s2.json" .latency_us.p99)/$(jget "$TMP/s3.json" .latency_us.p99)/$(jget "$TMP/s4.json" .latency_us.p99) us; slow sub1 got $n1 objects, relay reset $resets of its streams"
log "PASS relay_slow_sub"
