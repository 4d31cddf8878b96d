#!/usr/bin/env bash
# A subscription the kernel's map refuses is served in userspace (issue 17
# finding 7): the pinned moq_subscriptions is filled with dummy entries
# after the relay started (it empties the maps at start) and before the
# subscriber subscribes. The relay counts the failed update, warns, and
# its agent writes every object: the subscriber is byte-exact, nothing of
# it went through the kernel, and the failure shows in the stats line and
# in moq_relay_fp_subscriptions_userspace_total.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 1
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

FILL=$ROOT/tests/integration/relay/fill_map.py
MPORT=9464
fp_relay full --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 \
	--ctl-socket none --metrics-listen 127.0.0.1:$MPORT
start_pub full-pub pub --plaintext --rate 100 --track test "$RELAY_IP4:4443"
wait_announce full
# struct moq_subscription_key (16 bytes) -> struct moq_subscription (16)
n=$(python3 "$FILL" "$FP_PIN/moq_subscriptions" 16 16) || die "could not fill moq_subscriptions"
log "moq_subscriptions full after $n dummy entries"
[ "$n" -gt 0 ] || die "moq_subscriptions took no entry"
start_sub full-s1 sub1 --plaintext --duration 3 --connect-timeout 5 "$RELAY_IP4_SUB_1:4443"
S=$SUB_PID
wait_for 5 grep -q "moq_subscriptions update failed" "$TMP/full.log" ||
	{ tail -n 20 "$TMP/full.log" >&2; die "no warning about the refused moq_subscriptions update"; }
# while the subscriber receives: the userspace fallback is counted
prom=$(on relay python3 -c '
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "http://127.0.0.1:$MPORT/metrics")
fb=$(echo "$prom" | awk '$1 == "moq_relay_fp_subscriptions_userspace_total" { print $2 }')
log "moq_relay_fp_subscriptions_userspace_total $fb"
[ "${fb%.*}" = 1 ] || die "subscriptions served in userspace: '$fb', want 1"
wait_exit "$S" 20 "the subscriber"
expect_intact full-s1
line=$(grep "fastpath subs=1" "$TMP/full.log" | tail -n 1)
log "$line"
kp=$(sed -n 's/.* kernel_pkts=\([0-9]*\).*/\1/p' <<<"$line")
ap=$(sed -n 's/.* agent_pkts=\([0-9]*\).*/\1/p' <<<"$line")
mf=$(sed -n 's/.* map_failures=\([0-9]*\).*/\1/p' <<<"$line")
[ "$kp" = 0 ] || die "the kernel forwarded $kp packets of a subscription it has no entry for"
[ "${ap:-0}" -gt 100 ] || die "the agent wrote only ${ap:-0} packets (want the whole track)"
[ "${mf:-0}" -ge 1 ] || die "the failed update is not counted (map_failures=${mf:-})"
log "PASS fastpath_sub_map_full"
