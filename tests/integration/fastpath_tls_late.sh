#!/usr/bin/env bash
# A TLS publisher whose connection reaches the fast path late (issue 19,
# docs/fast-path-tls-upstream.md "The packet-number window"): a
# CHACHA20-POLY1305 subscriber (served in userspace) makes the publisher
# send ~1,000 1-RTT packets before the first AES-128-GCM subscriber makes
# the agent register the connection with the kernel. ngtcp2 sends 1-byte
# packet numbers by then, which the kernel expands against moq_pn_windows'
# largest: the agent seeds it with the largest number the relay's QUIC
# stack accepted. A zeroed window would decode them wrongly, every open
# would fail (aead_open_failed) and the subscriber would get nothing from
# the kernel. Checks: the window was seeded at >= 300, both subscribers
# byte-exact, >= 99 % of the fast one's media packets sealed in the
# kernel, no aead_open_failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 2
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

RATE=400
CERT=$TMP/dc
CIPHERS_OPT=${FPT_CIPHERS_OPT:---tls-ciphers}
fp_field() { grep -o "fastpath subs=.*" "$TMP/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | tr -d '%'; }
R_OPEN_FAILED=$(fp_reason_index aead_open_failed)

fp_relay relay --listen 0.0.0.0:4443 --dev-cert "$CERT" --log-level info --stats-interval 1 \
	--ctl-socket none
HASH=$(cat "$CERT/cert.sha256")
start_pub pub pub --cert-hash "$HASH" --rate "$RATE" --object-size 1000 --objects-per-group 10 \
	--track test "$RELAY_IP4:4443"
wait_announce relay
# the userspace subscriber first: ~2.5 s of objects before the fast one
start_sub s0 sub2 --cert-hash "$HASH" --count 2400 --connect-timeout 10 \
	"$CIPHERS_OPT" CHACHA20-POLY1305 "$RELAY_IP4_SUB_2:4443"
S0=$SUB_PID
sleep 2.5
[ "$(fp_stat 0 0)" = 0 ] || die "the kernel cloned publisher packets before a fast subscriber"
start_sub s1 sub1 --cert-hash "$HASH" --count 1200 --connect-timeout 10 "$RELAY_IP4_SUB_1:4443"
S1=$SUB_PID
wait_exit "$S1" 40 "the fast subscriber"
wait_exit "$S0" 40 "the userspace subscriber"
sleep 1.2 # one more stats line
expect_intact s0
expect_intact s1
[ "$(jget "$TMP/s1.json" .objects_received)" = 1200 ] || die "s1: $(jget "$TMP/s1.json" .objects_received) of 1200 objects"
seed=$(sed -n 's/.*packet-number window seeded at \([0-9]*\).*/\1/p' "$TMP/relay.log" | head -1)
[ -n "$seed" ] || die "the agent did not seed the publisher's packet-number window"
[ "$seed" -ge 300 ] || die "window seeded at $seed: the publisher had not sent 300 packets yet"
up_fwd=$(fp_stat 0 0)
open_failed=$(fp_stat 0 "$R_OPEN_FAILED")
share=$(fp_field relay kernel_share)
log "window seeded at $seed; kernel: upstream opened+cloned $up_fwd, aead_open_failed $open_failed; kernel share $share %"
[ "$open_failed" = 0 ] || die "$open_failed publisher packets failed to open in the kernel"
[ "$up_fwd" -gt 1000 ] || die "only $up_fwd publisher packets opened and cloned in the kernel"
python3 -c "import sys; sys.exit(0 if float('$share') >= 99.0 else 1)" ||
	die "only $share % of the fast subscriber's media packets sealed in the kernel (want >= 99 %)"
log "PASS fastpath_tls_late: a publisher with $seed packets behind it opened in the kernel, $share % sealed"
stop "$PUB_PID"
stop "$RELAY_PID"
