#!/usr/bin/env bash
# netns testbed for moq-relay: one publisher, one relay, N subscribers, each in
# its own network namespace. See docs/testbed.md for the topology drawing,
# the address plan and the env file.
#
#   testbed.sh up --subscribers N [--shared-link] [--csum-offload on|off]
#                 [--mtu BYTES] [--prefix P]
#   testbed.sh down [--prefix P]
#   testbed.sh shape HOST RATE [--prefix P]        e.g. shape sub1 2mbit
#   testbed.sh unshape HOST [--prefix P]
#   testbed.sh loss HOST PERCENT [--from] [--udp-only] [--prefix P]
#   testbed.sh exec [--prefix P] HOST CMD [ARGS...]
#   testbed.sh status [--prefix P]
#
# HOST is pub, relay, sub1..subN (exec also takes sw in --shared-link mode).
# P defaults to $MOQ_TESTBED_PREFIX, else "moq"; letters, digits and _, at
# most 12 characters. Everything is created inside namespaces named
# P-pub, P-relay, P-sub1.., P-sw (shared link); nothing in the caller's
# namespace except the env file /run/moq-testbed/P.env (+ P.state) and BPF
# pins under /sys/fs/bpf/moq-testbed/P/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=${MOQ_TESTBED_RUN_DIR:-/run/moq-testbed}
BPF_BASE=/sys/fs/bpf/moq-testbed
PREFIX=${MOQ_TESTBED_PREFIX:-moq}
MAX_SUBS=200
# shellcheck source=netns/bpffs.sh
. "$ROOT/netns/bpffs.sh"

# Address plan (docs/testbed.md). Separate links: link K (0 = publisher,
# i = subscriber i) is 10.77.K.0/24 and fd77:0:0:K::/64, relay .1/::1, host
# .2/::2. Shared link: one 10.77.0.0/24 + fd77::/64, relay .1, publisher .2,
# subscriber i .(10+i) (v6: the same digits, fd77::1x).
NET4=10.77
NET6=fd77

die() {
	echo "testbed.sh: $*" >&2
	exit 1
}
say() { echo "testbed.sh: $*" >&2; }

usage() {
	sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (it creates network namespaces, veths, qdiscs and BPF pins); try: sudo $0 $*"
}

check_prefix() {
	[[ $PREFIX =~ ^[A-Za-z0-9_]{1,12}$ ]] ||
		die "bad prefix '$PREFIX': use 1..12 letters, digits or _ (e.g. t\$\$)"
}

env_file() { echo "$RUN_DIR/$PREFIX.env"; }
state_file() { echo "$RUN_DIR/$PREFIX.state"; }
bpf_dir() { echo "$BPF_BASE/$PREFIX"; }

# Run a command in namespace $1 changing only the network namespace, so tc
# pins into the real /sys/fs/bpf (ip netns exec / tc -n remount /sys).
nsx() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# Namespaces of this prefix that exist now (by naming convention).
existing_namespaces() {
	local n
	ip netns list 2>/dev/null | awk '{print $1}' | while read -r n; do
		[[ $n =~ ^${PREFIX}-(pub|relay|sw|sub[0-9]+)$ ]] && echo "$n"
	done
	return 0
}

load_env() {
	local f
	f=$(env_file)
	[ -r "$f" ] || die "no testbed with prefix '$PREFIX' ($f missing); start one with: $0 up --subscribers N --prefix $PREFIX"
	# shellcheck disable=SC1090
	. "$f"
}

# host name -> namespace
host_ns() {
	local h=$1 i
	case "$h" in
	pub) echo "$PUB_NS" ;;
	relay) echo "$RELAY_NS" ;;
	sw)
		[ -n "${SW_NS:-}" ] || die "host 'sw' exists only with --shared-link"
		echo "$SW_NS"
		;;
	sub[0-9]*)
		i=${h#sub}
		[[ $i =~ ^[0-9]+$ ]] && [ "$i" -ge 1 ] && [ "$i" -le "$SUBSCRIBERS" ] ||
			die "no host '$h' in testbed '$PREFIX' (subscribers are sub1..sub$SUBSCRIBERS)"
		local v="SUB_NS_$i"
		echo "${!v}"
		;;
	*) die "unknown host '$h': use pub, relay or sub1..sub$SUBSCRIBERS" ;;
	esac
}

# host name -> its variable suffix (PUB or SUB_i); pub and subN only
host_key() {
	case "$1" in
	pub) echo PUB ;;
	sub[0-9]*)
		host_ns "$1" >/dev/null
		echo "SUB_${1#sub}"
		;;
	relay | sw) die "'$1' is not a link end point: use pub or sub1..sub$SUBSCRIBERS (loss and shaping apply to the link toward that host)" ;;
	*) die "unknown host '$1': use pub or sub1..sub$SUBSCRIBERS" ;;
	esac
}

link_info() { # ns ifname -> "ifindex mac"
	ip -n "$1" -o link show dev "$2" |
		sed -E 's/^([0-9]+): .*link\/ether ([0-9a-f:]+).*/\1 \2/'
}

# ---------------------------------------------------------------- up
cmd_up() {
	local n="" shared=0 csum=on mtu="" a
	while [ $# -gt 0 ]; do
		case "$1" in
		--subscribers | -n) n=${2:-}; shift ;;
		--shared-link) shared=1 ;;
		--csum-offload) csum=${2:-}; shift ;;
		--mtu) mtu=${2:-}; shift ;;
		--prefix) PREFIX=${2:-}; shift ;;
		*) die "up: unknown option '$1' (see $0 --help)" ;;
		esac
		shift
	done
	need_root up
	check_prefix
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le $MAX_SUBS ] ||
		die "up: --subscribers N is required, 1..$MAX_SUBS (got '${n}')"
	[[ $csum =~ ^(on|off)$ ]] || die "up: --csum-offload takes on or off (got '$csum')"
	[ -z "$mtu" ] || [[ $mtu =~ ^[0-9]+$ && $mtu -ge 1280 && $mtu -le 65535 ]] ||
		die "up: --mtu takes 1280..65535 (got '$mtu')"
	for a in ip tc nsenter; do
		command -v "$a" >/dev/null || die "up: '$a' not found (install iproute2 / util-linux)"
	done
	[ "$csum" = on ] || command -v ethtool >/dev/null || die "up: --csum-offload off needs ethtool (apt-get install ethtool)"
	# the fast path and the loss programs pin under /sys/fs/bpf: without a
	# bpffs there tc may pin nothing, without an error
	moq_ensure_bpffs /sys/fs/bpf || die "up: no BPF filesystem at /sys/fs/bpf; run 'mount -t bpf bpf /sys/fs/bpf' and retry"

	local old
	old=$(existing_namespaces | tr '\n' ' ')
	if [ -e "$(state_file)" ] || [ -e "$(env_file)" ] || [ -n "$old" ]; then
		die "a testbed with prefix '$PREFIX' already exists (${old:-files $(state_file) / $(env_file)}); remove it with: $0 down --prefix $PREFIX"
	fi
	mkdir -p "$RUN_DIR"
	# Claim the prefix atomically: a concurrent 'up' with the same prefix fails here.
	(set -C; echo "# moq testbed $PREFIX: objects created by 'up' (read by 'down')" >"$(state_file)") 2>/dev/null ||
		die "a testbed with prefix '$PREFIX' is being created right now ($(state_file) exists)"

	trap 'rc=$?; if [ $rc -ne 0 ]; then say "up failed (exit $rc); removing the partial testbed"; cmd_down --prefix "$PREFIX" >/dev/null 2>&1 || true; fi' EXIT

	local pub="$PREFIX-pub" relay="$PREFIX-relay" sw="" i
	local -a subs=() veths=()
	for ((i = 1; i <= n; i++)); do subs+=("$PREFIX-sub$i"); done
	[ $shared = 1 ] && sw="$PREFIX-sw"

	mkns() {
		ip netns add "$1" || die "up: cannot create namespace $1"
		echo "ns $1" >>"$(state_file)"
		nsx "$1" ip link set lo up
		nsx "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	}
	mkns "$pub"
	mkns "$relay"
	for i in "${subs[@]}"; do mkns "$i"; done
	nsx "$relay" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

	# addr NS IF V4/LEN V6/LEN
	addr() {
		ip -n "$1" addr add "$3" dev "$2"
		ip -n "$1" -6 addr add "$4" dev "$2" nodad
		ip -n "$1" link set "$2" up
	}
	# host_routes NS RELAY_V4 RELAY_V6: everything else is behind the relay
	host_routes() {
		ip -n "$1" route add default via "$2"
		ip -n "$1" -6 route add default via "$3"
	}

	local -A IF ADDR4 ADDR6 RIF RADDR4 RADDR6 SHNS SHIF
	if [ $shared = 0 ]; then
		# link K: relay side r-pub / r-subK, host side eth0
		local k host ns rif net6
		for ((k = 0; k <= n; k++)); do
			if [ $k = 0 ]; then host=pub ns=$pub rif=r-pub; else host=sub$k ns=${subs[k - 1]} rif=r-sub$k; fi
			# canonical text form: fd77::1 on link 0, fd77:0:0:K::1 on link K
			if [ $k = 0 ]; then net6=$NET6:; else net6=$NET6:0:0:$k:; fi
			ip -n "$relay" link add "$rif" type veth peer name eth0 netns "$ns" ||
				die "up: cannot create veth $relay/$rif <-> $ns/eth0"
			veths+=("$relay $rif" "$ns eth0")
			addr "$relay" "$rif" "$NET4.$k.1/24" "$net6:1/64"
			addr "$ns" eth0 "$NET4.$k.2/24" "$net6:2/64"
			host_routes "$ns" "$NET4.$k.1" "$net6:1"
			IF[$host]=eth0 ADDR4[$host]=$NET4.$k.2 ADDR6[$host]=$net6:2
			RIF[$host]=$rif RADDR4[$host]=$NET4.$k.1 RADDR6[$host]=$net6:1
			SHNS[$host]=$relay SHIF[$host]=$rif
		done
	else
		# one bridge br0 in its own namespace (a switch); every host, the
		# relay included, has one veth eth0 plugged into port p-HOST
		mkns "$sw"
		nsx "$sw" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		ip -n "$sw" link add br0 type bridge stp_state 0 mcast_snooping 0
		ip -n "$sw" link set br0 up
		plug() { # NS PORT
			ip -n "$sw" link add "$2" type veth peer name eth0 netns "$1" ||
				die "up: cannot create veth $sw/$2 <-> $1/eth0"
			veths+=("$sw $2" "$1 eth0")
			ip -n "$sw" link set "$2" master br0 up
		}
		plug "$relay" p-relay
		addr "$relay" eth0 "$NET4.0.1/24" "$NET6::1/64"
		local host ns last
		for ((k = 0; k <= n; k++)); do
			if [ $k = 0 ]; then host=pub ns=$pub last=2; else host=sub$k ns=${subs[k - 1]} last=$((10 + k)); fi
			plug "$ns" "p-$host"
			addr "$ns" eth0 "$NET4.0.$last/24" "$NET6::$last/64"
			host_routes "$ns" "$NET4.0.1" "$NET6::1"
			IF[$host]=eth0 ADDR4[$host]=$NET4.0.$last ADDR6[$host]=$NET6::$last
			RIF[$host]=eth0 RADDR4[$host]=$NET4.0.1 RADDR6[$host]=$NET6::1
			SHNS[$host]=$sw SHIF[$host]=p-$host
		done
	fi

	local v
	if [ -n "$mtu" ]; then
		for v in "${veths[@]}"; do
			set -- $v
			ip -n "$1" link set dev "$2" mtu "$mtu"
		done
	fi
	if [ "$csum" = off ]; then
		for v in "${veths[@]}"; do
			set -- $v
			nsx "$1" ethtool -K "$2" tx off >/dev/null 2>&1 ||
				die "up: 'ethtool -K $2 tx off' failed in $1"
		done
	fi

	# ---- env file
	local tmp info
	tmp=$(env_file).tmp
	{
		echo "# moq-relay netns testbed '$PREFIX', written by netns/testbed.sh up on $(date -u +%FT%TZ)"
		echo "# source this file; docs/testbed.md explains every variable"
		echo "TESTBED_PREFIX=$PREFIX"
		echo "TESTBED_MODE=$([ $shared = 1 ] && echo shared || echo separate)"
		echo "SUBSCRIBERS=$n"
		echo "CSUM_OFFLOAD=$csum"
		echo "MTU=${mtu:-1500}"
		echo "BPF_PIN_DIR=$(bpf_dir)"
		echo "PUB_NS=$pub"
		echo "RELAY_NS=$relay"
		echo "SW_NS=$sw"
		for ((k = 1; k <= n; k++)); do echo "SUB_NS_$k=${subs[k - 1]}"; done
		local key ns hostns
		for ((k = 0; k <= n; k++)); do
			if [ $k = 0 ]; then host=pub key=PUB hostns=$pub; else host=sub$k key=SUB_$k hostns=${subs[k - 1]}; fi
			# the host's end of its link
			info=$(link_info "$hostns" "${IF[$host]}")
			if [ $k = 0 ]; then
				echo "PUB_IF=${IF[$host]}"
				echo "PUB_IP4=${ADDR4[$host]}"
				echo "PUB_IP6=${ADDR6[$host]}"
				echo "PUB_IFINDEX=${info% *}"
				echo "PUB_MAC=${info#* }"
			else
				echo "SUB_IF_$k=${IF[$host]}"
				echo "SUB_IP4_$k=${ADDR4[$host]}"
				echo "SUB_IP6_$k=${ADDR6[$host]}"
				echo "SUB_IFINDEX_$k=${info% *}"
				echo "SUB_MAC_$k=${info#* }"
			fi
			# the relay's end toward it
			info=$(link_info "$relay" "${RIF[$host]}")
			echo "RELAY_IF_$key=${RIF[$host]}"
			echo "RELAY_IP4_$key=${RADDR4[$host]}"
			echo "RELAY_IP6_$key=${RADDR6[$host]}"
			echo "RELAY_IFINDEX_$key=${info% *}"
			echo "RELAY_MAC_$key=${info#* }"
			# where 'shape' puts its qdisc (egress toward the host)
			echo "SHAPE_NS_$key=${SHNS[$host]}"
			echo "SHAPE_IF_$key=${SHIF[$host]}"
		done
		echo "RELAY_IP4=${RADDR4[pub]}"
		echo "RELAY_IP6=${RADDR6[pub]}"
		echo "PREFIX_LEN4=24"
		echo "PREFIX_LEN6=64"
		echo "TESTBED_HOSTS=\"pub relay$(for ((k = 1; k <= n; k++)); do printf ' sub%d' $k; done)${sw:+ sw}\""
	} >"$tmp"
	mv "$tmp" "$(env_file)"
	trap - EXIT
	print_summary
}

print_summary() {
	load_env
	local k key host ns
	echo "testbed '$TESTBED_PREFIX' ($TESTBED_MODE links, $SUBSCRIBERS subscribers, tx csum offload $CSUM_OFFLOAD)"
	printf '  %-6s %-14s %-6s %-13s %s\n' HOST NAMESPACE IF IPV4 IPV6
	printf '  %-6s %-14s %-6s %-13s %s\n' pub "$PUB_NS" "$PUB_IF" "$PUB_IP4" "$PUB_IP6"
	for ((k = 0; k <= SUBSCRIBERS; k++)); do
		if [ $k = 0 ]; then key=PUB host=pub; else key=SUB_$k host=sub$k; fi
		local rif="RELAY_IF_$key" r4="RELAY_IP4_$key" r6="RELAY_IP6_$key"
		if [ "$TESTBED_MODE" = shared ] && [ $k -gt 0 ]; then continue; fi
		printf '  %-6s %-14s %-6s %-13s %s%s\n' relay "$RELAY_NS" "${!rif}" "${!r4}" "${!r6}" \
			"$([ "$TESTBED_MODE" = separate ] && echo "   (link to $host)")"
	done
	for ((k = 1; k <= SUBSCRIBERS; k++)); do
		local sns="SUB_NS_$k" sif="SUB_IF_$k" s4="SUB_IP4_$k" s6="SUB_IP6_$k"
		printf '  %-6s %-14s %-6s %-13s %s\n' "sub$k" "${!sns}" "${!sif}" "${!s4}" "${!s6}"
	done
	[ -z "$SW_NS" ] || echo "  switch: bridge br0 in namespace $SW_NS, ports p-relay p-pub p-sub1.."
	echo "run a command on a host:  $0 exec --prefix $TESTBED_PREFIX HOST CMD...   (or nsenter --net=/run/netns/NAMESPACE CMD...)"
	echo "variables:                . $(env_file)"
}

# ---------------------------------------------------------------- down
cmd_down() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--prefix) PREFIX=${2:-}; shift ;;
		*) die "down: unknown option '$1'" ;;
		esac
		shift
	done
	need_root down
	check_prefix
	local -a list=()
	local ns pids removed=0
	if [ -r "$(state_file)" ]; then
		while read -r kind ns; do
			[ "$kind" = ns ] && list+=("$ns")
		done <"$(state_file)"
	fi
	while read -r ns; do
		[ -n "$ns" ] && list+=("$ns")
	done < <(existing_namespaces)
	# unique, in order
	local -A seen=()
	for ns in "${list[@]}"; do
		[ -z "${seen[$ns]:-}" ] || continue
		seen[$ns]=1
		[ -e "/run/netns/$ns" ] || continue
		# processes left inside would keep the namespace (and its veths) alive
		pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
		if [ -n "${pids// /}" ]; then
			say "down: stopping processes in $ns: $pids"
			kill $pids 2>/dev/null || true
			for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
				pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
				[ -z "${pids// /}" ] && break
				sleep 0.1
			done
			[ -z "${pids// /}" ] || kill -9 $pids 2>/dev/null || true
		fi
		ip netns del "$ns" && removed=$((removed + 1))
	done
	if [ -d "$(bpf_dir)" ]; then
		rm -rf "$(bpf_dir)"
		rmdir "$BPF_BASE" 2>/dev/null || true
	fi
	rm -f "$(env_file)" "$(env_file).tmp" "$(state_file)"
	echo "testbed '$PREFIX' down ($removed namespaces removed)"
}

# ---------------------------------------------------------------- shape
# rate in tc syntax -> bytes per second (integer)
rate_bytes() {
	local r=${1,,}
	[[ $r =~ ^([0-9]+(\.[0-9]+)?)(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$ ]] ||
		die "shape: bad rate '$1': use a number with bit, kbit, mbit, gbit (bits/s) or bps, kbps, mbps, gbps (bytes/s), e.g. 2mbit"
	local num=${BASH_REMATCH[1]} unit=${BASH_REMATCH[3]}
	awk -v n="$num" -v u="$unit" 'BEGIN {
		m["bit"] = 1/8; m["kbit"] = 1e3/8; m["mbit"] = 1e6/8; m["gbit"] = 1e9/8;
		m["bps"] = 1; m["kbps"] = 1e3; m["mbps"] = 1e6; m["gbps"] = 1e9;
		printf "%d\n", n * m[u] }'
}

cmd_shape() {
	local host="" rate=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--prefix) PREFIX=${2:-}; shift ;;
		-*) die "shape: unknown option '$1'" ;;
		*) if [ -z "$host" ]; then host=$1; elif [ -z "$rate" ]; then rate=$1; else die "shape: too many arguments"; fi ;;
		esac
		shift
	done
	[ -n "$host" ] && [ -n "$rate" ] || die "shape: usage: shape HOST RATE (e.g. shape sub1 2mbit)"
	need_root shape
	check_prefix
	load_env
	local key ns dev bps burst
	key=$(host_key "$host")
	ns=SHAPE_NS_$key dev=SHAPE_IF_$key
	ns=${!ns} dev=${!dev}
	bps=$(rate_bytes "$rate")
	[ "$bps" -ge 1000 ] || die "shape: rate '$rate' is below 8kbit"
	# burst: 20 ms at the rate, at least 4 full-size frames
	burst=$((bps / 50))
	[ $burst -ge 6100 ] || burst=6100
	nsx "$ns" tc qdisc replace dev "$dev" root tbf rate "$rate" burst "$burst" latency 50ms ||
		die "shape: tc qdisc replace dev $dev root tbf failed in $ns"
	echo "shaped link toward $host: $ns/$dev egress $(nsx "$ns" tc qdisc show dev "$dev" root)"
}

cmd_unshape() {
	local host=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--prefix) PREFIX=${2:-}; shift ;;
		-*) die "unshape: unknown option '$1'" ;;
		*) [ -z "$host" ] || die "unshape: too many arguments"; host=$1 ;;
		esac
		shift
	done
	[ -n "$host" ] || die "unshape: usage: unshape HOST"
	need_root unshape
	check_prefix
	load_env
	local key ns dev
	key=$(host_key "$host")
	ns=SHAPE_NS_$key dev=SHAPE_IF_$key
	ns=${!ns} dev=${!dev}
	if nsx "$ns" tc qdisc show dev "$dev" root | grep '^qdisc tbf' >/dev/null; then
		nsx "$ns" tc qdisc del dev "$dev" root
		echo "unshaped link toward $host ($ns/$dev)"
	else
		echo "link toward $host ($ns/$dev) was not shaped"
	fi
}

# ---------------------------------------------------------------- loss
le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }

loss_obj() {
	local o
	local b=${B:-build}
	[[ $b == /* ]] || b=$ROOT/$b
	# a test-only program: built by make, never installed
	for o in ${MOQ_LOSS_OBJ:-} "$b/tc-progs/testing/loss.bpf.o" "$ROOT/build/tc-progs/testing/loss.bpf.o"; do
		[ -r "$o" ] && { echo "$o"; return 0; }
	done
	die "loss: loss.bpf.o not found (run make; or set MOQ_LOSS_OBJ)"
}

cmd_loss() {
	local host="" pct="" hook=ingress dir=in flags=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--prefix) PREFIX=${2:-}; shift ;;
		--from) hook=egress dir=out ;;
		--udp-only) flags=1 ;;
		-*) die "loss: unknown option '$1'" ;;
		*) if [ -z "$host" ]; then host=$1; elif [ -z "$pct" ]; then pct=$1; else die "loss: too many arguments"; fi ;;
		esac
		shift
	done
	[ -n "$host" ] && [ -n "$pct" ] || die "loss: usage: loss HOST PERCENT [--from] [--udp-only]"
	[[ $pct =~ ^([0-9]{1,3})(\.([0-9]{1,4}))?$ ]] || die "loss: bad percentage '$pct' (0..100, up to 4 decimals)"
	local frac=${BASH_REMATCH[3]}
	frac=${frac}0000
	local ppm=$((10#${BASH_REMATCH[1]} * 10000 + 10#${frac:0:4}))
	[ $ppm -le 1000000 ] || die "loss: percentage '$pct' is above 100"
	need_root loss
	check_prefix
	load_env
	command -v bpftool >/dev/null || die "loss: bpftool not found (apt-get install bpftool)"
	local key ns dev pin
	key=$(host_key "$host")
	ns=$(host_ns "$host")
	if [ "$key" = PUB ]; then dev=PUB_IF; else dev=SUB_IF_${key#SUB_}; fi
	dev=${!dev}
	pin=$(bpf_dir)/loss-$host-$dir

	if [ $ppm = 0 ]; then
		if nsx "$ns" tc filter show dev "$dev" "$hook" 2>/dev/null | grep 'moq_loss' >/dev/null; then
			nsx "$ns" tc filter del dev "$dev" "$hook" pref 1 handle 1 bpf
		fi
		rm -f "$pin"
		echo "no loss on packets $([ $dir = in ] && echo toward || echo from) $host"
		return 0
	fi

	if [ ! -e "$pin" ]; then
		local obj prog map
		obj=$(loss_obj)
		nsx "$ns" tc qdisc show dev "$dev" | grep '^qdisc clsact' >/dev/null ||
			nsx "$ns" tc qdisc add dev "$dev" clsact
		nsx "$ns" tc filter replace dev "$dev" "$hook" pref 1 handle 1 bpf da obj "$obj" sec tc ||
			die "loss: cannot attach $obj to $ns/$dev $hook"
		prog=$(nsx "$ns" tc filter show dev "$dev" "$hook" | sed -nE 's/.* id ([0-9]+) name moq_loss .*/\1/p' | head -1)
		[ -n "$prog" ] || die "loss: attached, but found no moq_loss program on $ns/$dev $hook"
		# the map among the program's map_ids (a,b,...). No `grep -q`
		# after bpftool or tc here: under pipefail its early exit gives the
		# writer SIGPIPE and the pipe fails now and then (seen as "no
		# moq_loss_cfg map"); asked up to three times all the same
		map=""
		for _ in 1 2 3; do
			for m in $(bpftool prog show id "$prog" | sed -nE 's/.*map_ids ([0-9,]+).*/\1/p' | tr ',' ' '); do
				bpftool map show id "$m" | grep 'name moq_loss_cfg' >/dev/null && { map=$m; break; }
			done
			[ -n "$map" ] && break
			sleep 0.2
		done
		[ -n "$map" ] || die "loss: program $prog has no moq_loss_cfg map ($(bpftool prog show id "$prog" 2>&1 | tr '\n' ' '))"
		mkdir -p "$(bpf_dir)"
		bpftool map pin id "$map" "$pin" || die "loss: cannot pin map $map at $pin"
	fi
	bpftool map update pinned "$pin" key hex 00 00 00 00 \
		value hex $(le32 $ppm) $(le32 $flags) 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ||
		die "loss: cannot update $pin"
	echo "loss $pct% on $([ $flags = 1 ] && echo "UDP packets" || echo "IP packets") $([ $dir = in ] && echo toward || echo from) $host ($ns/$dev $hook; counters: bpftool map dump pinned $pin)"
}

# ---------------------------------------------------------------- exec
cmd_exec() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--prefix) PREFIX=${2:-}; shift ;;
		*) break ;;
		esac
		shift
	done
	[ $# -ge 2 ] || die "exec: usage: exec [--prefix P] HOST CMD [ARGS...]"
	need_root exec
	check_prefix
	load_env
	local ns
	ns=$(host_ns "$1")
	shift
	exec nsenter --net="/run/netns/$ns" -- "$@"
}

# ---------------------------------------------------------------- status
cmd_status() {
	local given=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--prefix) PREFIX=${2:-}; given=1; shift ;;
		*) die "status: unknown option '$1'" ;;
		esac
		shift
	done
	if [ $given = 0 ]; then
		local f p any=0 orphans
		for f in "$RUN_DIR"/*.env "$RUN_DIR"/*.state; do
			[ -e "$f" ] || continue
			p=$(basename "$f")
			p=${p%.*}
			case " ${seen_list:-} " in *" $p "*) continue ;; esac
			seen_list="${seen_list:-} $p"
			any=1
			echo "testbed '$p': $(PREFIX=$p existing_namespaces | tr '\n' ' ')$([ -e "$RUN_DIR/$p.env" ] || echo '(partial: no env file)')"
		done
		orphans=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E -- '-(pub|relay|sw|sub[0-9]+)$' | while read -r n; do
			p=${n%-*}
			[ -e "$RUN_DIR/$p.env" ] || [ -e "$RUN_DIR/$p.state" ] || echo "$n"
		done | tr '\n' ' ' || true)
		[ -z "$orphans" ] || { any=1; echo "namespaces that look like a testbed without env file (remove with down --prefix P): $orphans"; }
		if [ $any = 1 ]; then echo "details: $0 status --prefix P"; else echo "no testbed (see $0 --help)"; fi
		return 0
	fi
	check_prefix
	if [ ! -e "$(env_file)" ]; then
		local ns
		ns=$(existing_namespaces | tr '\n' ' ')
		echo "no complete testbed '$PREFIX'${ns:+; leftover namespaces: $ns (remove with: $0 down --prefix $PREFIX)}"
		return 0
	fi
	print_summary
	local h ns
	for h in $TESTBED_HOSTS; do
		ns=$(host_ns "$h")
		[ -e "/run/netns/$ns" ] || { echo "  $h: namespace $ns MISSING"; continue; }
		echo "  $h ($ns):"
		ip -n "$ns" -br addr | grep -v '^lo ' | sed 's/^/    /'
		nsx "$ns" tc qdisc show | grep -E '^qdisc (tbf|htb|clsact)' | sed 's/^/    /' || true
		nsx "$ns" tc filter show dev eth0 ingress 2>/dev/null | grep -E ' id [0-9]+' | sed 's/^/    ingress /' || true
		nsx "$ns" tc filter show dev eth0 egress 2>/dev/null | grep -E ' id [0-9]+' | sed 's/^/    egress /' || true
	done
	if [ -d "$(bpf_dir)" ]; then
		echo "  pins in $(bpf_dir): $(ls "$(bpf_dir)" | tr '\n' ' ')"
	fi
}

# ---------------------------------------------------------------- main
[ $# -ge 1 ] || { usage >&2; exit 2; }
sub=$1
shift
if [ "$sub" != exec ]; then
	for a in "$@"; do
		case "$a" in -h | --help) usage; exit 0 ;; esac
	done
fi
case "$sub" in
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
shape) cmd_shape "$@" ;;
unshape) cmd_unshape "$@" ;;
loss) cmd_loss "$@" ;;
exec) cmd_exec "$@" ;;
status) cmd_status "$@" ;;
-h | --help | help) usage ;;
*) die "unknown command '$sub' (up, down, shape, unshape, loss, exec, status; see --help)" ;;
esac
