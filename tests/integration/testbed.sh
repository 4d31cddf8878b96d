#!/usr/bin/env bash
# Integration test of netns/testbed.sh itself: both topologies (separate
# links, --shared-link) with 3 subscribers reach publisher and relay over
# IPv4 and IPv6; `shape` shows in tc and limits throughput; `loss` drops
# the requested share per link and `loss HOST 0` removes it; `down` leaves
# nothing behind, also after a partial build. About 25 s.
. "$(dirname "$0")/lib.sh"

for c in ping:iputils-ping bpftool:bpftool ethtool:ethtool; do
	command -v "${c%%:*}" >/dev/null || die "'${c%%:*}' not found: apt-get install ${c#*:}"
done
[ -r "$ROOT/$B/tc-progs/testing/loss.bpf.o" ] || die "$B/tc-progs/testing/loss.bpf.o missing: run make first"

# ---- helpers ---------------------------------------------------------------
# ping_ok HOST DEST: one echo answered within 2 s
ping_ok() { on "$1" ping -c 1 -W 2 -q "$2" >/dev/null 2>&1 || die "$1 cannot ping $2 ($TESTBED_MODE links)"; }

# ping_loss HOST DEST COUNT: integer percent of COUNT fast pings lost
ping_loss() {
	local out
	out=$(on "$1" ping -c "$3" -i 0.005 -W 1 -q "$2" 2>&1 || true)
	sed -nE 's/.* ([0-9]+)(\.[0-9]+)?% packet loss.*/\1/p' <<<"$out" | grep . ||
		die "cannot parse ping output: $out"
}

# rx_bytes HOST: bytes received on the host's eth0 (counted before tc ingress)
rx_bytes() {
	local v=SUB_NS_${1#sub}
	ip -n "${!v}" -s -o link show dev eth0 | sed -E 's/.*RX: *bytes[^\\]*\\ +([0-9]+).*/\1/'
}

# udp_kbit SUBi: the publisher blasts UDP at SUBi for 1 s; prints what arrived,
# in kbit/s. Needs `tb loss SUBi 100 --udp-only` as a sink: no ICMP port
# unreachable comes back, so dd keeps writing.
udp_kbit() {
	local ipv=SUB_IP4_${1#sub} a b t0 t1
	a=$(rx_bytes "$1")
	t0=$(date +%s%N)
	on pub bash -c "timeout 1 dd if=/dev/zero bs=1200 status=none >/dev/udp/${!ipv}/9" || true
	sleep 0.2 # let the shaper's queue drain
	b=$(rx_bytes "$1")
	t1=$(date +%s%N)
	echo $(((b - a) * 8 * 1000000 / (t1 - t0)))
}

check_reachability() {
	local i r4 r6
	for ((i = 1; i <= SUBSCRIBERS; i++)); do
		r4=RELAY_IP4_SUB_$i r6=RELAY_IP6_SUB_$i
		ping_ok "sub$i" "$PUB_IP4"
		ping_ok "sub$i" "$PUB_IP6"
		ping_ok "sub$i" "${!r4}"
		ping_ok "sub$i" "${!r6}"
	done
	# and the other way, publisher to every subscriber (through the relay)
	for ((i = 1; i <= SUBSCRIBERS; i++)); do
		r4=SUB_IP4_$i r6=SUB_IP6_$i
		ping_ok pub "${!r4}"
		ping_ok pub "${!r6}"
	done
}

check_shaping() { # SUBi: shaping visible in tc and effective
	local key=SUB_${1#sub} ns dev before after
	ns=SHAPE_NS_$key dev=SHAPE_IF_$key
	ns=${!ns} dev=${!dev}
	tb loss "$1" 100 --udp-only >/dev/null
	before=$(udp_kbit "$1")
	tb shape "$1" 1mbit >/dev/null
	nsenter --net="/run/netns/$ns" tc qdisc show dev "$dev" | grep -q 'tbf .*rate 1Mbit' ||
		die "shape $1 1mbit: no tbf rate 1Mbit on $ns/$dev: $(nsenter --net="/run/netns/$ns" tc qdisc show dev "$dev")"
	after=$(udp_kbit "$1")
	log "$TESTBED_MODE: UDP toward $1 unshaped $before kbit/s, shaped to 1mbit $after kbit/s"
	[ "$before" -ge 20000 ] || die "unshaped link toward $1 carried only $before kbit/s"
	[ "$after" -ge 500 ] && [ "$after" -le 2000 ] ||
		die "link toward $1 shaped to 1mbit carried $after kbit/s (want 500..2000)"
	tb unshape "$1" >/dev/null
	! nsenter --net="/run/netns/$ns" tc qdisc show dev "$dev" | grep -q tbf || die "unshape $1 left a tbf on $ns/$dev"
	tb loss "$1" 0 >/dev/null
}

check_nothing_left() {
	local what
	what=$(ip netns list | grep -E "^$TB_PREFIX-" || true)
	[ -z "$what" ] || die "down left namespaces: $what"
	what=$(ip -o link show | grep -F "$TB_PREFIX" || true)
	[ -z "$what" ] || die "down left links: $what"
	[ ! -e "/run/moq-testbed/$TB_PREFIX.env" ] && [ ! -e "/run/moq-testbed/$TB_PREFIX.state" ] ||
		die "down left /run/moq-testbed/$TB_PREFIX.*"
	[ ! -e "/sys/fs/bpf/moq-testbed/$TB_PREFIX" ] || die "down left /sys/fs/bpf/moq-testbed/$TB_PREFIX"
}

# ---- separate links ----------------------------------------------------------
log "up: 3 subscribers, separate links, tx checksum offload off"
testbed_up 3 --csum-offload off
for v in PUB_NS RELAY_NS SUB_NS_3 PUB_IP4 PUB_IP6 RELAY_IF_PUB RELAY_IF_SUB_1 RELAY_IF_SUB_3 \
	RELAY_IFINDEX_SUB_2 SUB_IFINDEX_1 SUB_IP6_3 RELAY_MAC_SUB_1 SHAPE_IF_SUB_1; do
	[ -n "${!v:-}" ] || die "env file lacks $v"
done
[ "$TESTBED_MODE" = separate ] && [ "$SUBSCRIBERS" = 3 ] || die "env file: mode $TESTBED_MODE, $SUBSCRIBERS subscribers"
[ "$RELAY_IF_SUB_1" != "$RELAY_IF_SUB_2" ] || die "separate links share relay interface $RELAY_IF_SUB_1"
[ "$(on relay sysctl -n net.ipv4.ip_forward)" = 1 ] || die "relay does not forward IPv4"
on sub1 ethtool -k eth0 | grep -q '^tx-checksumming: off' || die "--csum-offload off: sub1 eth0 still offloads"
on relay ethtool -k "$RELAY_IF_SUB_1" | grep -q '^tx-checksumming: off' || die "--csum-offload off: relay $RELAY_IF_SUB_1 still offloads"

out=$(tb up --subscribers 1 2>&1) && die "a second up with prefix $TB_PREFIX succeeded"
grep -q 'already exists' <<<"$out" || die "second up failed without saying why: $out"

check_reachability
log "separate: every subscriber reaches publisher and relay (v4, v6), publisher reaches every subscriber"

check_shaping sub3

log "loss: 50% toward sub1, 10% toward sub2 at once"
tb loss sub1 50 >/dev/null
tb loss sub2 10 >/dev/null
ping_loss sub1 "$PUB_IP4" 400 >"/tmp/$TB_PREFIX.l1" &
p1=$!
l2=$(ping_loss sub2 "$PUB_IP4" 400)
wait $p1 || die "ping from sub1 failed"
l1=$(cat "/tmp/$TB_PREFIX.l1")
rm -f "/tmp/$TB_PREFIX.l1"
log "loss: sub1 $l1% of 400 lost (want 30..70), sub2 $l2% (want 2..20)"
[ "$l1" -ge 30 ] && [ "$l1" -le 70 ] || die "loss sub1 50: $l1% of 400 pings lost"
[ "$l2" -ge 2 ] && [ "$l2" -le 20 ] || die "loss sub2 10: $l2% of 400 pings lost"
bpftool map dump pinned "$BPF_PIN_DIR/loss-sub1-in" | grep -qE '"dropped": [1-9]' || die "loss counters of sub1 show no drop"
tb loss sub1 0 >/dev/null
! on sub1 tc filter show dev eth0 ingress | grep -q moq_loss || die "loss sub1 0 left the filter"
[ ! -e "$BPF_PIN_DIR/loss-sub1-in" ] || die "loss sub1 0 left its pin"
l1=$(ping_loss sub1 "$PUB_IP4" 100)
[ "$l1" = 0 ] || die "after loss sub1 0, $l1% of pings are still lost"
on sub2 tc filter show dev eth0 ingress | grep -q moq_loss || die "loss sub1 0 removed sub2's filter"

tb down >/dev/null
check_nothing_left
log "separate: down left nothing"

# ---- shared link -------------------------------------------------------------
log "up: 3 subscribers, one shared link"
testbed_up 3 --shared-link
[ "$TESTBED_MODE" = shared ] || die "env file: mode $TESTBED_MODE"
for v in RELAY_IF_SUB_1 RELAY_IF_SUB_2 RELAY_IF_SUB_3; do
	[ "${!v}" = "$RELAY_IF_PUB" ] || die "shared link: $v=${!v}, RELAY_IF_PUB=$RELAY_IF_PUB"
done
n=$(ip -n "$RELAY_NS" -o link show | grep -vc ': lo:')
[ "$n" = 1 ] || die "shared link: relay has $n interfaces besides lo"
check_reachability
log "shared: every subscriber reaches publisher and relay (v4, v6), publisher reaches every subscriber"
check_shaping sub2
tb loss sub3 50 >/dev/null
l3=$(ping_loss sub3 "$RELAY_IP6" 400)
log "shared: loss 50% toward sub3: $l3% of 400 IPv6 pings lost"
[ "$l3" -ge 30 ] && [ "$l3" -le 70 ] || die "shared: loss sub3 50: $l3% of 400 pings lost"
tb down >/dev/null
check_nothing_left
log "shared: down left nothing"

# ---- down after a partial build ------------------------------------------------
ip netns add "$TB_PREFIX-relay"
ip netns add "$TB_PREFIX-sub2"
tb down >/dev/null
check_nothing_left
log "partial: down removed stray $TB_PREFIX-relay and $TB_PREFIX-sub2"
log "PASS"
