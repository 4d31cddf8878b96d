#!/usr/bin/env bash
# moq-relayctl and the daemon's control socket (docs/relayctl.md):
#  - no daemon: moq-relayctl exits non-zero and says there is no socket;
#  - moq-relayd --plaintext in a private netns (testbed, 1 subscriber) with
#    --ctl-socket in this test's temp dir: the socket is mode 0660, a second
#    daemon on the same socket path refuses to start;
#  - with a moq-pub and a moq-sub: status / subscribers / tracks / stats
#    show the sessions, the subscriber's peer address, the track and the
#    counters, and every --json output parses;
#  - garbage and unknown commands on the socket get an error and a close;
#  - the map side: fast-path maps pinned by this test in its own bpffs dir
#    (never the global pins) through --pin-dir: live / stale heartbeat, an
#    active slot with its per-CPU counters summed and gate budget, moq_stats
#    by program and reason name; the daemon stopped -> maps still shown,
#    exit 1, and the socket file is gone;
#  - the real fast path (tc programs attached in the relay namespace with a
#    private pin root, tests/integration/relay/fastpath.sh): status says
#    live, the map slot and the daemon's snapshot name the same subscriber
#    and show kernel-forwarded packets, moq_stats has FORWARDED counts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
CTL=$ROOT/$B/bin/moq-relayctl
[ -x "$CTL" ] || die "build $CTL first (make all)"
command -v bpftool >/dev/null || die "bpftool missing (apt-get install bpftool)"

help=$("$CTL" --help)
for w in --socket --pin-dir --json --timeout status subscribers tracks stats; do
	grep -q -- "$w" <<<"$help" || die "moq-relayctl --help does not document $w"
done
rc=0
"$CTL" --bogus status >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || die "unknown option: exit $rc (want 2)"

# ---- no daemon ------------------------------------------------------------
SOCK=$TMP/ctl.sock
rc=0
out=$("$CTL" --socket "$SOCK" --pin-dir "$TMP/no-pins" status 2>&1) || rc=$?
[ $rc = 1 ] || die "no daemon: exit $rc (want 1): $out"
grep -q "no control socket at $SOCK" <<<"$out" || die "no daemon: message lacks the socket: $out"
grep -q "fast path: not attached" <<<"$out" || die "no daemon, no maps: not said: $out"
grep -q "tc filter add" <<<"$out" || die "no maps: the tc command to attach them is not named: $out"
log "no daemon: exit 1, '$(grep -o 'no control socket at [^:]*' <<<"$out" | head -1)'"

# ---- daemon, publisher, subscriber ------------------------------------------
testbed_up 1
start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0 \
	--drain-timeout 1 --ctl-socket "$SOCK"
[ -S "$SOCK" ] || die "no socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 660 ] || die "socket mode $(stat -c %a "$SOCK"), want 660"
rc=0
out=$(on relay "$RELAYD" --plaintext --listen 0.0.0.0:4444 --ctl-socket "$SOCK" 2>&1) || rc=$?
[ $rc != 0 ] || die "a second daemon started on a socket path another one listens on"
grep -q -- "--ctl-socket: .*is listening" <<<"$out" || die "second daemon: unclear message: $out"
kill -0 "$RELAY_PID" || die "the first daemon died"
[ -S "$SOCK" ] || die "the second daemon removed the first one's socket"
log "socket mode 660; a second daemon on it refused: ${out:0:110}..."

start_pub pub pub --plaintext --rate 100 --object-size 500 --track test "$RELAY_IP4:4443"
wait_announce relay
log "publisher announced"
start_sub s sub1 --plaintext --track test --duration 60 "$RELAY_IP4_SUB_1:4443"
SPID=$SUB_PID
ctlj() { "$CTL" --socket "$SOCK" --pin-dir "$TMP/no-pins" --json "$@"; }
wait_for 5 sh -c "'$CTL' --socket '$SOCK' --pin-dir '$TMP/no-pins' --json tracks |
	jq -e '.daemon.tracks[0].subscribers == 1 and .daemon.tracks[0].objects_in > 20'" ||
	{ ctlj tracks >&2; die "tracks: no track with 1 subscriber and objects"; }

for c in status subscribers tracks stats; do # all while the subscriber is there
	ctlj "$c" >"$TMP/$c.json" || die "$c --json: exit $?"
	"$CTL" --socket "$SOCK" --pin-dir "$TMP/no-pins" "$c" >"$TMP/$c.txt" || die "$c: exit $?"
done
# every --json output is one strict JSON document (python's json, as json.tool)
json_ok() {
	python3 -c 'import json, sys
for f in sys.argv[1:]:
    try:
        json.load(open(f))
    except ValueError as e:
        sys.exit("%s: %s" % (f, e))' "$@"
}
json_ok "$TMP"/{status,subscribers,tracks,stats}.json || die "--json output does not parse"
j() { jq -r "$2" "$TMP/$1.json"; }
[ "$(j status '.daemon.sessions')" = 2 ] && [ "$(j status '.daemon.publishers')" = 1 ] &&
	[ "$(j status '.daemon.subscribers')" = 1 ] && [ "$(j status '.daemon.tracks')" = 1 ] ||
	die "status: $(cat "$TMP/status.json")"
[ "$(j status '.daemon.pid')" = "$RELAY_PID" ] || die "status: pid $(j status .daemon.pid), relay is $RELAY_PID"
[ "$(j status '.daemon.fast_path')" = false ] || die "status: fast_path not false"
grep -q "sessions 2  publishers 1  subscribers 1  tracks 1" "$TMP/status.txt" ||
	die "status table: $(cat "$TMP/status.txt")"
grep -q "fast path: not attached" "$TMP/status.txt" || die "status: no fast-path line: $(cat "$TMP/status.txt")"

peer=$(j subscribers '.daemon.sessions[0].peer')
[[ $peer == "$SUB_IP4_1:"* ]] || die "subscribers: peer '$peer', want $SUB_IP4_1:PORT"
[ "$(j subscribers '.daemon.sessions[0].subscriptions[0].established')" = true ] &&
	[ "$(j subscribers '.daemon.sessions[0].subscriptions[0].objects_out')" -gt 0 ] ||
	die "subscribers: $(cat "$TMP/subscribers.json")"
grep -q "peer $SUB_IP4_1:" "$TMP/subscribers.txt" && grep -q "test .*established" "$TMP/subscribers.txt" ||
	die "subscribers table: $(cat "$TMP/subscribers.txt")"

[ "$(j tracks '.daemon.tracks[0].name')" = test ] && [ "$(j tracks '.daemon.tracks[0].state')" = active ] &&
	[[ $(j tracks '.daemon.tracks[0].publisher_peer') == "$PUB_IP4:"* ]] &&
	[ "$(j tracks '.daemon.tracks[0].cache_groups')" -gt 0 ] ||
	die "tracks: $(cat "$TMP/tracks.json")"
grep -q "test .*active .*$PUB_IP4:" "$TMP/tracks.txt" || die "tracks table: $(cat "$TMP/tracks.txt")"

[ "$(j stats '.daemon.objects_out')" -gt 0 ] && [ "$(j stats '.daemon.objects_in')" -gt 0 ] &&
	[ "$(j stats '.daemon.sessions_accepted')" -ge 2 ] && [ "$(j stats '.daemon.subscribes')" = 1 ] ||
	die "stats: $(cat "$TMP/stats.json")"
grep -Eq "^  objects_out +[1-9]" "$TMP/stats.txt" || die "stats table: $(cat "$TMP/stats.txt")"
log "status/subscribers/tracks/stats: 2 sessions, subscriber $peer, track test from $(j tracks '.daemon.tracks[0].publisher_peer'), objects_out $(j stats .daemon.objects_out); --json parses"

# ---- garbage on the socket ----------------------------------------------------
# each request on its own connection; the answers, one per line; fails
# unless the server answers and closes every connection within 3 s
python3 - "$SOCK" >"$TMP/raw.txt" <<-'EOF' || die "garbage: the server did not answer and close: $(cat "$TMP/raw.txt")"
	import socket, sys
	for req in (b"\x16\x03\x01\x00\xff junk\n", b"x" * 300, b"bogus\n"):
	    s = socket.socket(socket.AF_UNIX)
	    s.settimeout(3)
	    s.connect(sys.argv[1])
	    s.sendall(req)
	    d = b""
	    while True:
	        x = s.recv(4096)
	        if not x:
	            break
	        d += x
	    sys.stdout.write(d.decode())
EOF
grep -q '"error": "malformed request' "$TMP/raw.txt" || die "garbage: answers '$(cat "$TMP/raw.txt")'"
grep -q '"error": "request longer than 256' "$TMP/raw.txt" || die "long request: answers '$(cat "$TMP/raw.txt")'"
grep -q "unknown command 'bogus'" "$TMP/raw.txt" || die "unknown command: answers '$(cat "$TMP/raw.txt")'"
[ "$(wc -l <"$TMP/raw.txt")" = 3 ] || die "not one answer line per request: $(cat "$TMP/raw.txt")"
kill -0 "$RELAY_PID" || die "the daemon died on garbage"
log "garbage / 300-byte / unknown requests: error line and close; daemon alive"

# ---- the pinned maps, our own copies ------------------------------------------
# every map of this build's relay.bpf.o, pinned by tc (the object's own
# definitions, not a copy of them) from the loopback of a throwaway netns
MNT=/sys/fs/bpf/relayctl_t$$
PIN=$MNT/tc/globals
NS=relayctl_t$$
mkdir -p "$MNT"
at_exit "rm -rf '$MNT'"
ip netns add "$NS" || die "ip netns add $NS"
at_exit "ip netns del '$NS' 2>/dev/null"
nsenter --net="/run/netns/$NS" tc qdisc add dev lo clsact
TC_BPF_MNT=$MNT nsenter --net="/run/netns/$NS" tc filter add dev lo ingress bpf da \
	obj "$ROOT/$B/tc-progs/relay.bpf.o" sec tc/upstream_ingress || die "tc could not pin the maps"
ip netns del "$NS" # the program goes, the pinned maps stay
[ -e "$PIN/moq_stats" ] || die "tc pinned no moq_stats under $PIN"
ncpu=0 # possible CPUs: what the per-CPU maps hold a value for
IFS=, read -ra ranges </sys/devices/system/cpu/possible
for r in "${ranges[@]}"; do
	ncpu=$((ncpu + ${r#*-} - ${r%-*} + 1))
done
. "$(dirname "$0")/relay/reasons.sh"
LAYOUT=$(printf '#include "moq_maps.h"\nMOQ_MAPS_LAYOUT_VERSION\n' | cpp -P -I"$ROOT/tc-progs" - | tail -1)
# little-endian hex bytes of N, W bytes (W <= 8, or N = 0)
le() {
	local v=$1 n=$2 i b out=
	if [ "$v" = 0 ]; then
		printf '00 %.0s' $(seq "$n")
		return
	fi
	for ((i = 0; i < n; i++)); do
		printf -v b '%02x' $(((v >> (8 * i)) & 255))
		out+="$b "
	done
	echo "$out"
}
upd() { bpftool map update pinned "$PIN/$1" key hex $2 value hex $3 || die "bpftool map update $1 failed"; }
set_config() { # HEARTBEAT_AGE_MS TIMEOUT_MS
	local now
	now=$(awk '/^now at/ {print $3; exit}' /proc/timer_list) # CLOCK_MONOTONIC ns
	upd moq_config "$(le 0 4)" "$(le "$LAYOUT" 4) $(le 1 4) $(le $((now - $1 * 1000000)) 8) $(le $(($2 * 1000000)) 8) $(le 7 4) 11 5b 00 00"
}
set_config 0 60000
# slot 3: active, generation 7, ifindex 1, IPv4, subscriber 10.9.8.7:5555
upd moq_subscribers "$(le 3 4)" "$(le 1 4) $(le 7 4) $(le 1 4) 04 00 00 00 $(le 0 12) 11 5b 15 b3 $(le 0 16) 0a 09 08 07 $(le 0 12) $(le 0 16)"
# per CPU (bpftool writes the same value on every CPU): rx 1/100 tx 15/18000 drop 2/2400
upd moq_sub_stats "$(le 3 4)" "$(le 1 8) $(le 100 8) $(le 15 8) $(le 18000 8) $(le 2 8) $(le 2400 8)"
upd moq_gate "$(le 3 4)" "$(le -4096 8) $(le 1 4) $(le 0 4) $(le 0 64)"
upd moq_stats "$(le 0 4)" "$(le 50 8) $(le 60000 8)"                   # upstream_ingress forwarded
upd moq_stats "$(le $((1 * FP_R_MAX + $(fp_reason_index gate_drop))) 4)" "$(le 3 8) $(le 3600 8)"      # subscriber_egress gate_drop
upd moq_tracks "$(le 1 4) $(le 0 4) $(le 0 8)" "$(le 1 4) 80 00 00 00 $(le 3 4) $(le 0 16380)"

mctl() { "$CTL" --socket "$SOCK" --pin-dir "$PIN" "$@"; }
out=$(mctl status) || die "status with maps: exit $?: $out"
grep -q "fast path: live (heartbeat" <<<"$out" || die "status: not live: $out"
grep -q "layout $LAYOUT  generation 7  enabled  upstreams 0  tracks 1  subscriptions 0  active slots 1" <<<"$out" ||
	die "status: kernel line: $out"
grep -q "sessions 2" <<<"$out" || die "status with maps: daemon part missing: $out"
mctl --json subscribers >"$TMP/msub.json" || die "subscribers --json with maps: exit $?"
json_ok "$TMP/msub.json" || die "subscribers --json with maps does not parse"
s='.maps.slots[0]'
[ "$(jq -r "$s.slot" "$TMP/msub.json")" = 3 ] && [ "$(jq -r "$s.peer" "$TMP/msub.json")" = 10.9.8.7:5555 ] &&
	[ "$(jq -r "$s.tx_packets" "$TMP/msub.json")" = $((15 * ncpu)) ] &&
	[ "$(jq -r "$s.tx_bytes" "$TMP/msub.json")" = $((18000 * ncpu)) ] &&
	[ "$(jq -r "$s.drop_packets" "$TMP/msub.json")" = $((2 * ncpu)) ] &&
	[ "$(jq -r "$s.gate_budget" "$TMP/msub.json")" = -4096 ] &&
	[ "$(jq -r '.daemon.sessions[0].peer' "$TMP/msub.json")" = "$peer" ] ||
	die "subscribers with maps ($ncpu CPUs): $(jq -c .maps "$TMP/msub.json")"
out=$(mctl subscribers) || die "subscribers with maps: exit $?"
grep -Eq "^ +3 10\.9\.8\.7:5555 +1 +$((15 * ncpu)) " <<<"$out" || die "subscribers table with maps: $out"
out=$(mctl stats) || die "stats with maps: exit $?"
grep -Eq "upstream_ingress +forwarded +$((50 * ncpu)) +$((60000 * ncpu))" <<<"$out" &&
	grep -Eq "subscriber_egress +gate_drop +$((3 * ncpu)) +$((3600 * ncpu))" <<<"$out" ||
	die "stats with maps: $out"
[ "$(grep -c "^  [a-z_]*ress  " <<<"$out")" = 2 ] || die "stats: zero counters listed: $out"
mctl --json tracks | jq -e '.maps.tracks[0].subscribers == 1 and .maps.tracks[0].conn_id == 1' >/dev/null ||
	die "tracks with maps: $(mctl --json tracks | jq -c .maps)"
set_config 5000 500
out=$(mctl status) || die "status, stale: exit $?"
grep -q "fast path: stale (heartbeat 5[0-9]* ms ago > timeout 500 ms" <<<"$out" || die "stale heartbeat not reported: $out"
set_config -100000000 500 # 100,000 s in the future: stale too
out=$(mctl status) || die "status, future: exit $?"
grep -q "fast path: stale (heartbeat 99999[0-9]* ms in the future > timeout 500 ms" <<<"$out" ||
	die "future heartbeat not reported stale: $out"
log "maps: live -> stale, slot 3 tx $((15 * ncpu)) pkts summed over $ncpu CPUs, budget -4096, moq_stats by reason name"

# ---- the daemon goes away -------------------------------------------------------
stop "$SPID"
stop "$PUB_PID"
stop "$RELAY_PID"
[ ! -e "$SOCK" ] || die "socket $SOCK left after the daemon stopped"
rc=0
out=$(mctl status 2>&1) || rc=$?
[ $rc = 1 ] || die "daemon stopped: exit $rc (want 1)"
grep -q "daemon: not available: no control socket" <<<"$out" && grep -q "fast path: stale" <<<"$out" ||
	die "daemon stopped: maps part or note missing: $out"
log "daemon stopped: socket removed; moq-relayctl shows the maps, says the daemon is not there, exit 1"

# ---- the real fast path (tc programs in the relay namespace, private pins) -----
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach
SOCK=$TMP/fp.sock
fp_relay fp --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0 --drain-timeout 1 \
	--ctl-socket "$SOCK"
start_pub fp-pub pub --plaintext --rate 200 --object-size 300 --track test "$RELAY_IP4:4443"
wait_announce fp
start_sub fp-s sub1 --plaintext --track test --duration 60 "$RELAY_IP4_SUB_1:4443"
fctl() { "$CTL" --socket "$SOCK" --pin-dir "$FP_PIN" "$@"; }
wait_for 8 sh -c "'$CTL' --socket '$SOCK' --pin-dir '$FP_PIN' --json subscribers |
	jq -e '.maps.slots[0].tx_packets > 50 and .daemon.fast_path_subscribers[0].kernel_packets > 50'" ||
	{ fctl subscribers >&2; die "fast path: no slot with kernel-forwarded packets in both views"; }
# issue 18: the subscription itself counts what the fast path delivered
# (objects of streams acknowledged whole, packets from the sent log)
wait_for 8 sh -c "'$CTL' --socket '$SOCK' --json subscribers |
	jq -e '[.daemon.sessions[].subscriptions[]? | select(.fast_path)][0] |
		.objects_out > 0 and .bytes_out > 0 and .kernel_packets > 50'" ||
	{ fctl --json subscribers >&2; die "fast path: the subscription's own counters stay 0"; }
out=$(fctl subscribers)
echo "$out"
grep -Eq "^    [^ ]+ +[0-9]+ established +[1-9][0-9]* .* [1-9][0-9]*$" <<<"$out" ||
	die "fast path subscription row: $out"
out=$(fctl status) || die "fast path status: exit $?: $out"
grep -q "daemon fast path: on (1 fast subscribers" <<<"$out" && grep -q "fast path: live (heartbeat" <<<"$out" &&
	grep -Eq "enabled  upstreams [1-9][0-9]*  tracks 1  subscriptions 1  active slots 1" <<<"$out" ||
	die "fast path status: $out"
fctl --json subscribers >"$TMP/fsub.json" || die "fast path subscribers --json: exit $?"
[ "$(jq -r '.maps.slots[0].slot' "$TMP/fsub.json")" = "$(jq -r '.daemon.fast_path_subscribers[0].slot' "$TMP/fsub.json")" ] &&
	[[ $(jq -r '.maps.slots[0].peer' "$TMP/fsub.json") == "$SUB_IP4_1:"* ]] ||
	die "fast path: the map slot and the daemon's snapshot disagree: $(jq -c '.maps.slots, .daemon.fast_path_subscribers' "$TMP/fsub.json")"
out=$(fctl subscribers) || die "fast path subscribers: exit $?"
grep -q "KERN_PKTS" <<<"$out" && grep -Eq "^ +[0-9]+ $SUB_IP4_1:[0-9]+ +[0-9]+ +[1-9][0-9]* " <<<"$out" ||
	die "fast path subscribers table: $out"
out=$(fctl stats) || die "fast path stats: exit $?"
grep -Eq "upstream_ingress +forwarded +[1-9]" <<<"$out" && grep -Eq "subscriber_egress +forwarded +[1-9]" <<<"$out" ||
	die "fast path stats: $out"
json_ok "$TMP/fsub.json" || die "fast path subscribers --json does not parse"
log "real fast path: live; slot $(jq -r '.maps.slots[0].slot' "$TMP/fsub.json"): kernel tx $(jq -r '.maps.slots[0].tx_packets' "$TMP/fsub.json") pkts (maps), kernel $(jq -r '.daemon.fast_path_subscribers[0].kernel_packets' "$TMP/fsub.json") / agent $(jq -r '.daemon.fast_path_subscribers[0].agent_packets' "$TMP/fsub.json") pkts (daemon)"
log "PASS relayctl"
