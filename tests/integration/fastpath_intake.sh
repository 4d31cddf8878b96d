#!/usr/bin/env bash
# Batched publisher intake (issue 18, docs/fast-path-agent.md "Batched
# publisher intake"): while every subscriber of a publisher's track is
# served by the kernel, the relay reads the publisher's socket once per
# service tick (several datagrams per read, no wakeup per packet); a
# subscriber the agent serves (here: its moq_subscriptions update is
# refused, as in fastpath_sub_map_full) releases the socket at once, and
# it is held again when that subscriber has gone. Every object intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 2
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach

FILL=$ROOT/tests/integration/relay/fill_map.py
fp_relay in --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 --ctl-socket none
start_pub in-pub pub --plaintext --rate 300 --track test "$RELAY_IP4:4443"
wait_announce in

stat_of() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
last_line() { grep "fastpath subs=$1 " "$TMP/in.log" | tail -n 1; }
held_since() { tail -n +"$1" "$TMP/in.log" | grep "fastpath subs=1 " | grep -q " intake_held=1 "; }

start_sub in-s1 sub1 --plaintext --duration 9 --connect-timeout 5 "$RELAY_IP4_SUB_1:4443"
S1=$SUB_PID
wait_for 8 held_since 1 || { tail -n 5 "$TMP/in.log" >&2; die "the publisher was not held with one fast subscriber"; }
fp_next_stats in
line=$(last_line 1)
log "one fast subscriber: $line"
r0=$(stat_of intake_reads "$line") p0=$(stat_of intake_pkts "$line")
[ "${r0:-0}" -ge 10 ] || die "intake_reads=${r0:-} (want the publisher read on the tick)"
# 300 objects/s on a 20 ms tick: ~6 datagrams per read (2 at least)
[ "${p0:-0}" -ge $((2 * r0)) ] || die "intake_pkts=${p0:-} in $r0 reads: not batched"

# a second subscriber served by the agent: its subscription finds no room
n=$(python3 "$FILL" "$FP_PIN/moq_subscriptions" 16 16) || die "could not fill moq_subscriptions"
log "moq_subscriptions full after $n dummy entries"
start_sub in-s2 sub2 --plaintext --duration 2 --connect-timeout 5 "$RELAY_IP4_SUB_2:4443"
S2=$SUB_PID
wait_for 5 grep -q "moq_subscriptions update failed" "$TMP/in.log" ||
	die "the second subscription was not refused by the kernel's map"
fp_next_stats in
line=$(last_line 2)
log "with a subscriber in userspace: $line"
[ -n "$line" ] || die "no stats line with two subscribers"
[ "$(stat_of intake_held "$line")" = 0 ] || die "the publisher stayed held while the agent serves a subscriber"
[ "$(stat_of intake_releases "$line")" -ge 1 ] || die "no release counted"
wait_exit "$S2" 20 "the userspace subscriber"
expect_intact in-s2
# gone: held again
since=$(($(wc -l <"$TMP/in.log") + 1))
wait_for 5 held_since "$since" || die "the publisher was not held again after the userspace subscriber left"
wait_exit "$S1" 20 "the fast subscriber"
expect_intact in-s1
log "PASS fastpath_intake"
