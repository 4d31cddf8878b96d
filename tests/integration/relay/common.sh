# tests/integration/relay/common.sh - helpers for the relay_*.sh tests (and
# netns/demo.sh, bench/relay_userspace.sh). Source after lib.sh:
#
#   relay_tools_check          die unless moq-relayd, moq-pub, moq-sub exist
#   mkcert DIR                 self-signed ECDSA cert (certtool) in DIR/{cert,key}.pem
#                              for 127.0.0.1, 10.77.0.1 and localhost
#   start_relay NAME HOST ARGS...   moq-relayd in HOST's namespace, log in
#                              $TMP/NAME.log; waits for "listening on"; sets RELAY_PID
#   start_pub NAME HOST ARGS...     moq-pub in HOST's namespace; sets PUB_PID
#   start_sub NAME HOST ARGS...     moq-sub --json --quiet in the background,
#                              JSON in $TMP/NAME.json; sets SUB_PID
#   jget FILE PATH             a value from a JSON file (jq path, e.g. .objects_missing)
#   expect_intact NAME         die unless NAME's JSON says 0 missing, 0 integrity
#                              errors and > 0 objects
#   stop PID                   SIGTERM and wait (bounded 5 s, then SIGKILL)
# Every process started here is stopped at exit.

RELAYD=$ROOT/$B/bin/moq-relayd
PUB=$ROOT/$B/bin/moq-pub
SUB=$ROOT/$B/bin/moq-sub
TMP=${TMP:-$(mktemp -d /tmp/relaytest.$$.XXXXXX)}
_PIDS=()

relay_tools_check() {
	local t
	for t in "$RELAYD" "$PUB" "$SUB"; do
		[ -x "$t" ] || die "build $t first (make all)"
	done
	command -v jq >/dev/null || die "jq missing (apt-get install jq)"
}

_kill_all() {
	local p
	for p in "${_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in "${_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
at_exit "rm -rf '$TMP'"
at_exit _kill_all

mkcert() {
	local d=$1
	mkdir -p "$d"
	cat >"$d/tmpl" <<-EOT
		cn = "localhost"
		dns_name = "localhost"
		ip_address = "127.0.0.1"
		ip_address = "10.77.0.1"
		ca
		cert_signing_key
		signing_key
		encryption_key
		tls_www_server
		expiration_days = 2
	EOT
	certtool --generate-privkey --key-type=ecdsa --outfile "$d/key.pem" 2>/dev/null
	certtool --generate-self-signed --load-privkey "$d/key.pem" --template "$d/tmpl" \
		--outfile "$d/cert.pem" 2>/dev/null
	[ -s "$d/cert.pem" ] || die "certtool could not make a certificate"
}

# exec CMD in HOST's namespace ("local": no namespace). Only for background
# jobs (`_in ... &` runs in a subshell, which exec replaces, so $! is the
# process itself and signals reach it).
_in() {
	local h=$1 v
	shift
	case "$h" in
	local) exec "$@" ;;
	pub) v=PUB_NS ;;
	relay) v=RELAY_NS ;;
	sub[0-9]*) v=SUB_NS_${h#sub} ;;
	*) die "_in: unknown host '$h'" ;;
	esac
	exec nsenter --net="/run/netns/${!v}" -- "$@"
}

start_relay() {
	local name=$1 host=$2
	shift 2
	_in "$host" "$RELAYD" "$@" 2>"$TMP/$name.log" &
	RELAY_PID=$!
	_PIDS+=("$RELAY_PID")
	wait_for 5 grep -q "listening on" "$TMP/$name.log" ||
		{ cat "$TMP/$name.log" >&2; die "$name: moq-relayd did not start"; }
}

start_pub() {
	local name=$1 host=$2
	shift 2
	_in "$host" "$PUB" "$@" 2>"$TMP/$name.log" &
	PUB_PID=$!
	_PIDS+=("$PUB_PID")
}

start_sub() {
	local name=$1 host=$2
	shift 2
	_in "$host" "$SUB" --json --quiet "$@" >"$TMP/$name.json" 2>"$TMP/$name.log" &
	SUB_PID=$!
	_PIDS+=("$SUB_PID")
}

jget() { jq -r "$2" "$1"; }

expect_intact() {
	local f=$TMP/$1.json n m i
	[ -s "$f" ] || { cat "$TMP/$1.log" >&2; die "$1: no JSON summary"; }
	n=$(jget "$f" .objects_received)
	m=$(jget "$f" .objects_missing)
	i=$(jget "$f" .integrity_errors)
	[ "$n" -gt 0 ] && [ "$m" = 0 ] && [ "$i" = 0 ] ||
		{ cat "$f" >&2; tail -5 "$TMP/$1.log" >&2; die "$1: received $n, missing $m, integrity errors $i"; }
}

stop() {
	local p=$1 i
	kill "$p" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

# wait until relay log NAME shows a publisher's namespace (needs --log-level info)
wait_announce() {
	wait_for 5 grep -q "publishes namespace\|published by" "$TMP/$1.log" ||
		{ tail -20 "$TMP/$1.log" >&2; tail "$TMP"/*pub*.log >&2; die "$1: no publisher announced within 5 s"; }
}

PROBE=$ROOT/$B/bin/moq-relay-probe

# wait (bounded) for a background process to exit
wait_exit() { # PID SECONDS WHAT
	timeout "$2" tail --pid="$1" -f /dev/null ||
		{ tail -n 8 "$TMP"/*.log >&2; die "$3 did not finish within $2 s"; }
	wait "$1" 2>/dev/null || true
}
