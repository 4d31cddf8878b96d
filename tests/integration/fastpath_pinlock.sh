#!/usr/bin/env bash
# One agent per set of pinned maps (issue 17, finding 5): a second
# moq-relayd --fast-path on started on the pin directory of a running one is
# refused (exit 2) with the first one's pid, and leaves the first one's
# kernel state alone (generation in moq_config unchanged, a subscriber
# joining afterwards still gets every object through the kernel). Once the
# first daemon is killed with SIGKILL, a new one starts on the same pins.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 1
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach
RARGS=(--listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 1 --ctl-socket none)

generation() { # moq_config's generation (u32 at byte offset 24)
	bpftool -j map lookup pinned "$FP_PIN/moq_config" key 0 0 0 0 |
		python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; b=bytes(int(x,16) for x in v) if isinstance(v,list) else None; print(int.from_bytes(b[24:28],"little") if b else v["generation"])'
}

fp_relay first "${RARGS[@]}"
first=$RELAY_PID
gen=$(generation)
log "first daemon pid $first, generation $gen"

rc=0
timeout 10 nsenter --net="/run/netns/$RELAY_NS" "$RELAYD" --listen 0.0.0.0:4444 --plaintext \
	--fast-path on --bpf-pin-dir "$FP_PIN" --ctl-socket none 2>"$TMP/second.log" || rc=$?
cat "$TMP/second.log"
[ "$rc" = 2 ] || die "second daemon on the same pins exited $rc, expected 2"
grep -q "pid $first holds the lock" "$TMP/second.log" || die "second daemon does not name the holder's pid $first"
kill -0 "$first" || die "first daemon died"
[ "$(generation)" = "$gen" ] || die "moq_config generation changed under the first daemon ($gen -> $(generation))"
log "second daemon refused with the holder's pid; first daemon's state untouched"

start_pub pub pub --plaintext --rate 500 --object-size 300 --objects-per-group 25 --track test "$RELAY_IP4:4443"
wait_for 5 grep -q "publishes namespace" "$TMP/first.log" || die "no publisher"
start_sub s1 sub1 --plaintext --count 1500 --connect-timeout 5 "$RELAY_IP4_SUB_1:4443"
wait_exit "$SUB_PID" 30 "the subscriber"
expect_intact s1
kp=$(grep -o "fastpath subs=.*" "$TMP/first.log" | tail -1 | tr ' ' '\n' | sed -n 's/^kernel_pkts=//p')
[ "${kp:-0}" -gt 0 ] || die "the first daemon's kernel forwarded nothing after the refused start"
log "subscriber intact through the first daemon's fast path ($kp kernel packets)"

kill -9 "$first"
wait "$first" 2>/dev/null || true
fp_relay third "${RARGS[@]}"
[ "$(generation)" != "$gen" ] || die "the new daemon did not take over the pins"
log "after kill -9 of the first, a new daemon takes the pins (generation $(generation))"
echo PASS
