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
#
# Transport switch (docs/webtransport.md "Tests"): MOQ_TEST_TRANSPORT=webtransport
# runs a suite's relays and clients over WebTransport instead of native QUIC
# (default: quic, nothing changes). start_relay then drops --plaintext and,
# without --cert, gives the relay a development certificate (--dev-cert
# $TMP/wtcert on the first relay; later relays of the test load the same
# files, so one trust anchor serves them all); --upstream HOST:PORT becomes
# https://HOST:PORT/ (+ --upstream-ca of that certificate). start_pub and
# start_sub drop --plaintext, turn the last argument HOST:PORT into
# https://HOST:PORT/ and, without --ca/--cert-hash, pin the dev certificate
# with --cert-hash. wt_client_args / wt_probe_args do the same for clients a
# suite runs itself. moq-relay-probe speaks native QUIC only: over
# WebTransport it connects to the same (TLS) relay natively with --insecure.
# Suites that stay native-only: relay_path_change, relay_half_open (QUIC
# path and idle behaviour of the plaintext profile), fastpath_*/fp_* (the
# kernel fast path writes native MoQT streams, not WebTransport's), relay_malformed
# (its malformed sessions come from the native-only probe).

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

MOQ_TEST_TRANSPORT=${MOQ_TEST_TRANSPORT:-quic}
case "$MOQ_TEST_TRANSPORT" in
quic | webtransport) ;;
*) die "MOQ_TEST_TRANSPORT=$MOQ_TEST_TRANSPORT: want quic or webtransport" ;;
esac
WT_CERT=$TMP/wtcert
is_wt() { [ "$MOQ_TEST_TRANSPORT" = webtransport ]; }
# HOST:PORT (IPv4, name or [IPv6]) -> https://HOST:PORT/
_wt_url() { if [[ $1 =~ ^[][0-9A-Za-z.:-]+:[0-9]+$ ]]; then echo "https://$1/"; else echo "$1"; fi; }

# the relay's arguments for this transport into WT_ARGS
wt_relay_args() {
	WT_ARGS=("$@")
	is_wt || return 0
	local a cert=0 upca=0 prev=
	WT_ARGS=()
	for a in "$@"; do
		case "$a" in
		--plaintext) continue ;;
		--cert | --dev-cert) cert=1 ;;
		--upstream-ca) upca=1 ;;
		esac
		[ "$prev" = --upstream ] && a=$(_wt_url "$a")
		WT_ARGS+=("$a")
		prev=$a
	done
	if [ $cert = 0 ]; then
		if [ -s "$WT_CERT/cert.pem" ]; then
			WT_ARGS+=(--cert "$WT_CERT/cert.pem" --key "$WT_CERT/key.pem")
		else
			WT_ARGS+=(--dev-cert "$WT_CERT")
		fi
	fi
	# the dev certificate names 127.0.0.1 and localhost, a chain's upstream
	[[ " ${WT_ARGS[*]} " == *" --upstream "* ]] && [ $upca = 0 ] &&
		WT_ARGS+=(--upstream-ca "$WT_CERT/cert.pem")
	return 0
}

# moq-pub/moq-sub arguments for this transport into WT_ARGS
wt_client_args() {
	WT_ARGS=("$@")
	is_wt || return 0
	local a trust=0 n=$#
	WT_ARGS=()
	for a in "${@:1:n-1}"; do
		case "$a" in
		--plaintext) continue ;;
		--ca | --cert-hash) trust=1 ;;
		esac
		WT_ARGS+=("$a")
	done
	[ -s "$WT_CERT/cert.sha256" ] || [ $trust = 1 ] || die "WebTransport: no dev certificate yet (start_relay first)"
	[ $trust = 1 ] || WT_ARGS+=(--cert-hash "$(cat "$WT_CERT/cert.sha256")")
	WT_ARGS+=("$(_wt_url "${!n}")")
}

# run_client SECONDS BIN ARGS...: moq-sub/moq-pub in the foreground (this
# namespace), bounded, with this transport's arguments
run_client() {
	local t=$1 bin=$2
	shift 2
	wt_client_args "$@"
	timeout "$t" "$bin" "${WT_ARGS[@]}"
}

# moq-relay-probe arguments into WT_ARGS: native QUIC, TLS unverified
wt_probe_args() {
	WT_ARGS=("$@")
	is_wt || return 0
	local a
	WT_ARGS=()
	for a in "$@"; do
		[ "$a" = --plaintext ] && a=--insecure
		WT_ARGS+=("$a")
	done
}

start_relay() {
	local name=$1 host=$2
	shift 2
	wt_relay_args "$@"
	_in "$host" "$RELAYD" "${WT_ARGS[@]}" 2>"$TMP/$name.log" &
	RELAY_PID=$!
	_PIDS+=("$RELAY_PID")
	wait_for 5 grep -q "listening on" "$TMP/$name.log" ||
		{ cat "$TMP/$name.log" >&2; die "$name: moq-relayd did not start"; }
}

start_pub() {
	local name=$1 host=$2
	shift 2
	wt_client_args "$@"
	_in "$host" "$PUB" "${WT_ARGS[@]}" 2>"$TMP/$name.log" &
	PUB_PID=$!
	_PIDS+=("$PUB_PID")
}

start_sub() {
	local name=$1 host=$2
	shift 2
	wt_client_args "$@"
	_in "$host" "$SUB" --json --quiet "${WT_ARGS[@]}" >"$TMP/$name.json" 2>"$TMP/$name.log" &
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
	# over WebTransport a relay saw a CONNECT path (native sessions have none)
	! is_wt || grep -q 'authorized to .*(path "/' "$TMP"/*.log ||
		die "$1: MOQ_TEST_TRANSPORT=webtransport, but no relay logged a WebTransport session"
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
