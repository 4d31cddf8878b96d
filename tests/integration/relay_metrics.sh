#!/usr/bin/env bash
# moq-relayd --metrics-listen: publisher -> relay -> subscriber on the netns
# testbed; the relay serves Prometheus metrics on 127.0.0.1 inside its own
# namespace. Two scrapes while media flows: the exposition parses
# (metrics/promcheck.py: HELP/TYPE before samples, label escaping, numbers,
# no duplicate series), the gauges show the publisher, the subscriber and
# the track, objects_out/bytes_out grow between the scrapes, other paths
# are 404, and a request over the size bound gets 431. Then the same with
# --fast-path on (programs attached in the relay namespace, private pins):
# the kernel series appear, FORWARDED by subscriber_egress grows and the
# per-subscriber series (kernel/agent packets, RTT) are there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 1

PROMCHECK="python3 $ROOT/tests/integration/metrics/promcheck.py"
SCRAPE="python3 $ROOT/tests/integration/metrics/scrape.py"
MPORT=9464
scrape() { # OUT: samples (checked) into $TMP/OUT.prom
	[ "$(on relay $SCRAPE -o "$TMP/$1.raw" -D "$TMP/$1.hdr" "http://127.0.0.1:$MPORT/metrics")" = 200 ] ||
		die "scrape $1: no 200 answer"
	grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/$1.hdr" ||
		{ cat "$TMP/$1.hdr" >&2; die "scrape $1: wrong Content-Type"; }
	$PROMCHECK "$TMP/$1.raw" >"$TMP/$1.prom" || die "scrape $1: exposition does not parse (above)"
}
val() { # FILE SERIES -> value (die if absent)
	local v
	v=$(awk -v s="$2" '$1 == s { print $2 }' "$TMP/$1.prom")
	[ -n "$v" ] || { cat "$TMP/$1.prom" >&2; die "$1: no series $2"; }
	echo "${v%.*}"
}

start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0 --drain-timeout 1 \
	--metrics-listen 127.0.0.1:$MPORT
grep -q "metrics on http://127.0.0.1:$MPORT/metrics" "$TMP/relay.log" || die "relay did not report the metrics address"
scrape idle
[ "$(val idle moq_relay_sessions)" = 0 ] || die "idle relay has sessions"
[ "$(val idle 'moq_relay_objects_out_total{path="userspace"}')" = 0 ] || die "idle relay sent objects"

start_pub pub pub --plaintext --rate 200 --object-size 1000 --objects-per-group 20 --track test "$RELAY_IP4:4443"
wait_announce relay
start_sub sub sub1 --plaintext --duration 30 --connect-timeout 5 "$RELAY_IP4_SUB_1:4443"
wait_for 5 grep -q "subscribing upstream" "$TMP/relay.log" || die "relay did not subscribe upstream"
sleep 1.5
scrape a
sleep 1.5
scrape b
o1=$(val a 'moq_relay_objects_out_total{path="userspace"}')
o2=$(val b 'moq_relay_objects_out_total{path="userspace"}')
b1=$(val a 'moq_relay_bytes_out_total{path="userspace"}')
b2=$(val b 'moq_relay_bytes_out_total{path="userspace"}')
i2=$(val b 'moq_relay_objects_in_total{path="userspace"}')
log "objects_out $o1 -> $o2, bytes_out $b1 -> $b2, objects_in $i2"
[ "$o1" -gt 0 ] && [ "$o2" -gt $((o1 + 100)) ] || die "objects_out did not grow by > 100 in 1.5 s at 200/s ($o1 -> $o2)"
[ "$b2" -gt "$b1" ] || die "bytes_out did not grow ($b1 -> $b2)"
[ "$i2" -ge "$o2" ] || die "one subscriber: objects_in ($i2) < objects_out ($o2)"
[ "$(val b moq_relay_sessions)" = 2 ] || { grep -E "^moq_relay_(sessions|publishers|subscribers)" "$TMP/b.prom" >&2; tail -5 "$TMP/relay.log" >&2; die "sessions != 2 (publisher + subscriber)"; }
[ "$(val b moq_relay_publishers)" = 1 ] || die "publishers != 1"
[ "$(val b moq_relay_subscribers)" = 1 ] || die "subscribers != 1"
[ "$(val b moq_relay_tracks)" = 1 ] || die "tracks != 1"
[ "$(val b moq_relay_subscriptions)" = 1 ] || die "subscriptions != 1"
[ "$(val b moq_relay_cache_groups)" -ge 1 ] || die "cache holds no group"
[ "$(val b moq_relay_subscribes_total)" -ge 1 ] || die "subscribes_total is 0"
# the listening endpoint's QUIC counters: traffic flowed, nothing refused
[ "$(val b moq_relay_quic_rx_datagrams_total)" -gt "$(val idle moq_relay_quic_rx_datagrams_total)" ] ||
	die "quic rx_datagrams did not grow with traffic"
[ "$(val b moq_relay_quic_tx_datagrams_total)" -gt 0 ] || die "quic tx_datagrams is 0"
[ "$(val b moq_relay_quic_conns_refused_total)" = 0 ] || die "quic conns_refused is not 0"
# the publisher reads on a socket of its own, and its media came in there
[ "$(val b moq_relay_quic_own_sockets_total)" = 1 ] || die "own_sockets $(val b moq_relay_quic_own_sockets_total), want 1 (the publisher)"
[ "$(val b moq_relay_quic_rx_own_datagrams_total)" -gt 10 ] || die "no datagram came in on the publisher's own socket"
! grep -q '^moq_relay_fp_' "$TMP/b.prom" || die "fast-path series without --fast-path on"

code=$(on relay $SCRAPE "http://127.0.0.1:$MPORT/")
[ "$code" = 404 ] || die "GET / answered $code, want 404"
code=$(on relay $SCRAPE -H "X-Big: $(head -c 5000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$MPORT/metrics")
[ "$code" = 431 ] || die "5 kB header answered $code, want 431"
# the metrics port is not reachable from the subscriber (bound to 127.0.0.1)
! on sub1 $SCRAPE -t 1 "http://$RELAY_IP4_SUB_1:$MPORT/metrics" 2>/dev/null ||
	die "metrics bound to 127.0.0.1 answered on $RELAY_IP4_SUB_1"

stop "$SUB_PID" # SIGTERM: moq-sub closes its session and prints its summary
jq -e '.objects_received > 0 and .integrity_errors == 0' "$TMP/sub.json" >/dev/null ||
	{ cat "$TMP/sub.json" >&2; die "subscriber saw errors"; }
no_subs() { scrape end && [ "$(val end moq_relay_subscriptions)" = 0 ]; }
wait_for 3 no_subs || die "subscription still counted 3 s after the subscriber left"
stop "$PUB_PID"
stop "$RELAY_PID"
log "userspace path: ok"

# ---- fast path ----
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach
fp_relay fprelay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0 --ctl-socket none --drain-timeout 1 \
	--metrics-listen 127.0.0.1:$MPORT
start_pub fppub pub --plaintext --rate 200 --object-size 1000 --objects-per-group 20 --track test "$RELAY_IP4:4443"
wait_announce fprelay
start_sub fpsub sub1 --plaintext --duration 30 --connect-timeout 5 --retry 3 "$RELAY_IP4_SUB_1:4443"
wait_for 5 grep -q "fast path slot" "$TMP/fprelay.log" || { tail -20 "$TMP/fprelay.log" >&2; die "subscriber got no fast path slot"; }
sleep 1.5
scrape fa
sleep 1.5
scrape fb
[ "$(val fb moq_relay_kernel_stats_available)" = 1 ] || die "kernel stats not read from $FP_PIN"
fw='moq_relay_kernel_packets_total{prog="subscriber_egress",reason="forwarded"}'
k1=$(val fa "$fw")
k2=$(val fb "$fw")
log "kernel forwarded $k1 -> $k2; $(grep -c '^moq_relay_kernel_packets_total' "$TMP/fb.prom") kernel reason series"
[ "$k2" -gt "$k1" ] || die "kernel FORWARDED did not grow ($k1 -> $k2)"
[ "$(val fb 'moq_relay_packets_out_total{path="kernel"}')" = "$k2" ] || die "packets_out{kernel} != egress FORWARDED"
[ "$(val fb 'moq_relay_bytes_out_total{path="kernel"}')" -gt 0 ] || die "bytes_out{kernel} is 0"
[ "$(val fb moq_relay_fp_subscribers)" = 1 ] || die "fp_subscribers != 1"
[ "$(val fb moq_relay_fp_subscribers_reported)" = 1 ] || die "fp_subscribers_reported != 1"
kp=$(grep '^moq_relay_fp_subscriber_packets_total{.*path="kernel"' "$TMP/fb.prom" | awk '{print $2}')
[ -n "$kp" ] && [ "${kp%.*}" -gt 0 ] || { grep fp_subscriber "$TMP/fb.prom" >&2; die "no kernel packets for the fast subscriber"; }
# issue 18: forwarded packets come from the sent log, the ring holds only
# exceptions (none on this clean link), objects delivered count
sl=$(val fb 'moq_relay_fp_records_total{source="sent_log"}')
rg=$(val fb 'moq_relay_fp_records_total{source="ring"}')
[ "${sl:-0}" -gt 0 ] && [ $((${rg:-1} * 100)) -le "$sl" ] ||
	die "fp_records_total: sent_log ${sl:-none}, ring ${rg:-none} (want ring <= 1% of sent_log)"
[ "$(val fb 'moq_relay_objects_out_total{path="fast_path"}')" -gt 0 ] || die "objects_out{fast_path} is 0"
grep -q "^moq_relay_fp_subscriber_srtt_seconds{peer=\"$RELAY_IP4_SUB_1\|^moq_relay_fp_subscriber_srtt_seconds{peer=\"10.77.1.2" "$TMP/fb.prom" ||
	{ grep srtt "$TMP/fb.prom" >&2; die "no per-subscriber RTT series labelled with the subscriber's address"; }
stop "$SUB_PID"
jq -e '.objects_received > 0 and .integrity_errors == 0' "$TMP/fpsub.json" >/dev/null ||
	{ cat "$TMP/fpsub.json" >&2; die "fast-path subscriber saw errors"; }
stop "$PUB_PID"
stop "$RELAY_PID"
log "fast path: ok"
log "PASS relay_metrics"
