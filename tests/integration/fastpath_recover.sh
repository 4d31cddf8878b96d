#!/usr/bin/env bash
# The fast path recovers after a transient overload (issue 18; docs/fast-path-agent.md
# "After an overload"): 64 subscribers (8 per host) of one plaintext track at 300
# objects/s through the fast path. As soon as every subscriber is on the fast path
# (their windows still near the initial 64 packets) the relay is stopped (SIGSTOP)
# RC_STOPS (2) times for RC_STOP_MS (1000) ms, a second apart: the kernel forwards
# until the gate's budget is spent, the subscribers' ACKs wait, and the relay wakes
# up to flights over the windows, gate drops and streams to take over. Afterwards the
# kernel must take over again: kernel share of media packets from RC_RECOVER (3) s
# after the last stop to the end (RC_AFTER, 6 s) >= RC_SHARE_MIN (99) %, every
# subscriber byte-exact (exit 0, nothing missing, no integrity error), and at most one
# "gate drop" log line per slot and second. Logs per second: kernel packets, agent
# packets, gate drops.
# Other disturbances, for a look (not run by default): RC_MODE=cpu (a cgroup v1 CPU
# quota of RC_QUOTA % on the relay for RC_STOP_MS), RC_STRACE=1 (the relay under
# `strace -f` throughout, as in the collapsed fastpath_onoff run), RC_QUOTA_AFTER (a
# quota of that % on the relay from the end of the disturbance on: a relay that stays
# slow, as on a loaded machine; for RC_QUOTA_AFTER_MS only, if set), RC_KEEP=DIR (keep
# the logs and a per-second count of subscriber packets passed / consumed), RC_EXACT=0
# (report subscribers that are not byte-exact instead of failing), RC_RECOVER_MAX=S (fail
# unless every second from S s after the disturbance on has a kernel share >= RC_SHARE_MIN).
# The slow-relay case of docs/results.md "Recovery after an overload":
#   RC_STRACE=1 RC_MODE=cpu RC_QUOTA=3 RC_STOP_MS=4000 RC_STOPS=1 RC_AFTER=8 \
#   RC_RECOVER_MAX=6 RC_EXACT=0 B=build tests/integration/fastpath_recover.sh
# (not in the suite: its outcome depends on the machine's load).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
HOSTS=8
SUBS=${RC_SUBS:-64}
STOP_MS=${RC_STOP_MS:-1000}
STOPS=${RC_STOPS:-2}
AFTER=${RC_AFTER:-6}
RECOVER=${RC_RECOVER:-3}
SHARE_MIN=${RC_SHARE_MIN:-99}
testbed_up $HOSTS
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach
[ -z "${RC_KEEP:-}" ] || at_exit "rm -rf '$RC_KEEP'; cp -r '$TMP' '$RC_KEEP'" # logs, for a look

sub_ip() { local v=RELAY_IP4_SUB_$1; echo "${!v}"; }
# cumulative counters of every "fastpath subs=" line: "kernel agent gate_drops"
fp_series() {
	grep -o "fastpath subs=.*" "$TMP/rc.log" | awk '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print v["kernel_pkts"], v["agent_pkts"], v["gate_drops"] }'
}
fp_lines() { grep -c "fastpath subs=" "$TMP/rc.log" || true; }

MODE=${RC_MODE:-stop}
case "$MODE" in
stop | none | gate | unseen) ;;
cpu) # a CPU quota (cgroup v1 cpu controller) on the relay
	CG=/sys/fs/cgroup/cpu/moq-recover-$$
	[ -d /sys/fs/cgroup/cpu ] || die "RC_MODE=cpu needs the cgroup v1 cpu controller"
	mkdir "$CG"
	at_exit "cat '$CG/cgroup.procs' 2>/dev/null | while read -r p; do echo \$p >/sys/fs/cgroup/cpu/cgroup.procs; done; rmdir '$CG'"
	echo 100000 >"$CG/cpu.cfs_period_us"
	echo $((${RC_QUOTA:-5} * 1000)) >"$CG/cpu.cfs_quota_us" ;;
*) die "RC_MODE=$MODE: want stop, gate, unseen, cpu or none" ;;
esac
if [ "${RC_STRACE:-0}" = 1 ]; then # a slowed relay throughout (the collapsed fastpath_onoff run)
	printf '#!/bin/sh\nexec strace -f -qq -o /dev/null %q "$@"\n' "$RELAYD" >"$TMP/relayd-strace"
	chmod +x "$TMP/relayd-strace"
	RELAYD=$TMP/relayd-strace
fi
# RC_MODE=gate: the relay stopped, and every enabled gate closed (its thresholds at
# INT64_MAX: each clone is a gate drop, the budget untouched) for RC_STOP_MS: every
# subscriber drops ~300 packets a second, each an event, so the 1 MiB moq_events ring
# (16,384 events) fills and later stream starts are dropped with no event
# (event_lost). The thresholds are put back before the relay runs again.
gates_close() { # SAVE: a bpftool batch that restores the entries
	bpftool -j map dump pinned "$FP_PIN/moq_gate" | python3 -c '
import json, sys
pin, save = sys.argv[1], sys.argv[2]
hx = lambda b: " ".join("%02x" % int(x, 16) for x in b)
close, back = [], []
for e in json.load(sys.stdin):
    k, v = e["key"], e["value"]
    if int(v[8], 16) == 0:  # gate not enabled: a free slot
        continue
    shut = v[:16] + ["0xff"] * 7 + ["0x7f"]  # threshold[0] ...
    shut += shut[16:24] * ((len(v) - 24) // 8)  # ... and every other class
    cmd = "map update pinned %s/moq_gate key hex %s value hex %%s" % (pin, hx(k))
    close.append(cmd % hx(shut))
    back.append(cmd % hx(v))
open(save, "w").write("\n".join(back) + "\n")
print("\n".join(close))
' "$FP_PIN" "$1" >"$1.close"
	bpftool batch file "$1.close" >/dev/null
}
# RC_MODE=unseen: the state a gate drop of a stream start leaves when its event is
# lost (moq_events full under a slow relay: event_lost), made on purpose: for every
# subscriber slot, an entry {no id, reset} in moq_down_streams for each of the
# RC_UNSEEN (5) upstream streams that start 20 streams from now. The kernel drops
# those streams (STREAM_RESET, an event about nobody's stream); the agent must still
# serve them (starts_unseen= in the stats line), then sleep RC_STOP_MS.
streams_unseen() {
	bpftool -j map dump pinned "$FP_PIN/moq_down_streams" | python3 -c '
import json, sys
pin, n = sys.argv[1], int(sys.argv[2])
le = lambda b: int.from_bytes(bytes(int(x, 16) for x in b), "little")
hx = lambda v, w: " ".join("%02x" % x for x in v.to_bytes(w, "little"))
top = {}
for e in json.load(sys.stdin):
    k = e["key"]
    slot, conn, sid = le(k[0:4]), le(k[4:8]), le(k[8:16])
    if sid > top.get((slot, conn), -1):
        top[(slot, conn)] = sid
val = hx((1 << 64) - 1, 8) + " " + hx(1, 4) + " " + hx(0, 4) + " " + hx(0, 8)
for (slot, conn), sid in sorted(top.items()):
    for i in range(20, 20 + n):
        print("map update pinned %s/moq_down_streams key hex %s %s %s value hex %s" %
              (pin, hx(slot, 4), hx(conn, 4), hx(sid + 4 * i, 8), val))
' "$FP_PIN" "${RC_UNSEEN:-5}" >"$TMP/unseen"
	bpftool batch file "$TMP/unseen" >/dev/null
	log "unseen: $(wc -l <"$TMP/unseen") stream starts marked dropped"
}
disturb() {
	local s
	s=$(awk -v m="$STOP_MS" 'BEGIN { print m / 1000 }')
	case "$MODE" in
	stop) kill -STOP "$RELAYD_PID"; sleep "$s"; kill -CONT "$RELAYD_PID" ;;
	gate) kill -STOP "$RELAYD_PID"; gates_close "$TMP/gates"; sleep "$s"
		bpftool batch file "$TMP/gates" >/dev/null; kill -CONT "$RELAYD_PID" ;;
	none) sleep "$s" ;;
	unseen) streams_unseen; sleep "$s" ;;
	cpu) echo "$RELAY_PID" >"$CG/cgroup.procs"; echo "$RELAYD_PID" >"$CG/cgroup.procs"; sleep "$s"
		if [ -n "${RC_QUOTA_AFTER:-}" ]; then # stays slow (a loaded machine): a second quota
			echo $((RC_QUOTA_AFTER * 1000)) >"$CG/cpu.cfs_quota_us"
			[ -z "${RC_QUOTA_AFTER_MS:-}" ] || { sleep "$(awk -v m="$RC_QUOTA_AFTER_MS" 'BEGIN { print m / 1000 }')"
				echo -1 >"$CG/cpu.cfs_quota_us"; }
		else
			echo "$RELAY_PID" >/sys/fs/cgroup/cpu/cgroup.procs; echo "$RELAYD_PID" >/sys/fs/cgroup/cpu/cgroup.procs
		fi ;;
	esac
}

fp_relay rc --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 \
	--ctl-socket none
start_pub rc-pub pub --plaintext --rate 300 --object-size 1000 --objects-per-group 10 \
	--track test "$RELAY_IP4:4443"
pub=$PUB_PID
RELAYD_PID=$RELAY_PID
[ "${RC_STRACE:-0}" != 1 ] || RELAYD_PID=$(pgrep -P "$RELAY_PID" moq-relayd)
# under strace the relay is strace's child: stop it first (strace detaches on SIGTERM)
[ "${RC_STRACE:-0}" != 1 ] || at_exit "pkill -P $RELAY_PID moq-relayd; sleep 0.5"
wait_announce rc
pids=()
for k in $(seq 1 "$SUBS"); do
	h=$(((k - 1) % HOSTS + 1))
	start_sub rc-s$k "sub$h" --plaintext --duration $((5 + AFTER + STOPS * (STOP_MS + 1999) / 1000)) \
		--connect-timeout 10 "$(sub_ip "$h"):4443"
	pids+=("$SUB_PID")
done
# every subscriber on the fast path (their windows still near the initial one), then
# RC_SETTLE (0) seconds of steady state
wait_for 20 grep -q "fastpath subs=$SUBS " "$TMP/rc.log" ||
	die "not all $SUBS subscribers on the fast path within 20 s"
sleep "${RC_SETTLE:-0}"
before=$(fp_lines)
if [ -n "${RC_KEEP:-}" ]; then # subscriber packets passed / consumed per second, for a look
	( R1=$(fp_reason_index sub_rx) R2=$(fp_reason_index ack_consumed) R3=$(fp_reason_index event_lost)
	  while sleep 1; do echo "$(date +%T) passed $(fp_stat 2 "$R1") consumed $(fp_stat 2 "$R2") events lost $(fp_stat 1 "$R3")"; done ) >"$TMP/subrx.txt" 2>&1 &
	at_exit "kill $!"
fi
for i in $(seq 1 "$STOPS"); do
	disturb
	sleep 1
done
disturbed=$(fp_lines)
log "$MODE: $STOPS x $STOP_MS ms (stats lines $before..$disturbed)"
sleep "$AFTER"
end=$(fp_lines)
for p in "${pids[@]}"; do wait_exit "$p" 40 "a subscriber"; done
fp_series | awk -v b="$before" -v d="$disturbed" '
	NR > 1 { k = $1 - pk; a = $2 - pa; printf "  s%-3d %s kernel %6d agent %6d gate_drops %6d\n",
		 NR, NR <= b ? "before" : NR <= d ? "during" : "after ", k, a, $3 - pg }
	{ pk = $1; pa = $2; pg = $3 }'
# seconds (stats lines) after the disturbance until the kernel share of every later line >= SHARE_MIN
rec=$(fp_series | awk -v d="$disturbed" -v e="$end" -v m="$SHARE_MIN" '
	NR > d && NR <= e { k = $1 - pk; a = $2 - pa; if (k + a == 0 || 100 * k < m * (k + a)) last = NR - d }
	{ pk = $1; pa = $2 } END { print last + 0 }')
log "kernel share >= $SHARE_MIN % in every second from $rec s after the disturbance on"
[ "$rec" -le "${RC_RECOVER_MAX:-$end}" ] || die "kernel share below $SHARE_MIN % until $rec s after the disturbance"
[ "$SHARE_MIN" = 0 ] || [ $((end - disturbed)) -gt $((RECOVER + 1)) ] || die "only $((end - disturbed)) stats lines after the disturbance"
read -r k0 a0 _ <<<"$(fp_series | sed -n "$((disturbed + RECOVER))p")"
read -r k1 a1 _ <<<"$(fp_series | sed -n "${end}p")"
share=$(awk -v k=$((k1 - k0)) -v a=$((a1 - a0)) 'BEGIN { printf "%.2f", k + a ? 100 * k / (k + a) : 0 }')
log "kernel share from $RECOVER s after the disturbance on: $share % ($((k1 - k0)) kernel, $((a1 - a0)) agent packets)"
[ "$SHARE_MIN" = 0 ] || [ $((k1 - k0)) -gt 0 ] || die "the kernel forwarded nothing after the disturbance"
awk -v s="$share" -v m="$SHARE_MIN" 'BEGIN { exit !(s >= m) }' ||
	die "kernel share after the disturbance $share % < $SHARE_MIN %"
bad=0
for k in $(seq 1 "$SUBS"); do
	f=$TMP/rc-s$k.json
	if ! [ -s "$f" ] || [ "$(jget "$f" .objects_missing)" != 0 ] ||
		[ "$(jget "$f" .integrity_errors)" != 0 ] || ! grep -q '"exit_code":0' "$f"; then
		bad=$((bad + 1))
		[ $bad -gt 3 ] || { echo "rc-s$k:" >&2; cat "$f" >&2; tail -3 "$TMP/rc-s$k.log" >&2; }
	fi
done
if [ "${RC_EXACT:-1}" = 1 ]; then
	[ $bad = 0 ] || die "$bad of $SUBS subscribers not byte-exact"
else
	log "$bad of $SUBS subscribers not byte-exact (not checked: RC_EXACT=0)"
fi
# the "gate drop" line: at most one a second per slot (a write per dropped stream
# start was thousands a second exactly when the relay was behind)
glines=$(grep -c "gate drop" "$TMP/rc.log" || true)
log "gate drop lines logged: $glines (gate_drops $(fp_series | tail -1 | cut -d' ' -f3))"
[ "$glines" -le $((SUBS * (end + 2))) ] || die "$glines gate drop lines in $end s for $SUBS slots"
if [ "$MODE" = unseen ]; then # the agent served the streams it heard nothing about
	su=$(grep -o "starts_unseen=[0-9]*" "$TMP/rc.log" | tail -1 | cut -d= -f2)
	log "starts_unseen=$su (marked $(wc -l <"$TMP/unseen"))"
	[ "${su:-0}" -gt 0 ] || die "the agent served no stream whose start it never heard of"
fi
stop "$pub"
stop "$RELAY_PID"
log "PASS"
