#!/usr/bin/env bash
# A client whose path changes and changes back must not take the relay down
# (issue 17 item 1; ngtcp2 0.12.1 and 1.11 abort in conn_start_pmtud() when
# a path migrates back and PMTUD is disabled). sub1 reaches the relay
# through tests/integration/relay/udp_rebind.py, which switches the source
# port of its 1-RTT packets on a live session:
#  - blip: one 1-RTT datagram from a new port, the next from the old one;
#  - a stay of 1.5 s on the new port (path validated), then back;
#  - a second blip.
# In TLS, in the plaintext profile and in the plaintext profile with the
# fast path on: the relay keeps running, sub2 (a direct session over the
# whole run) gets every object byte-exact, sub1 gets no corrupt object and
# keeps receiving after the changes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
. "$(dirname "$0")/relay/fastpath.sh"
relay_tools_check
command -v python3 >/dev/null || die "python3 missing"
testbed_up 2
mkcert "$TMP/pki"
REBIND=$ROOT/tests/integration/relay/udp_rebind.py

alive() { kill -0 "$RELAY_PID" 2>/dev/null || { tail -20 "$TMP/$1.log" >&2; die "$1: the relay died ($2)"; }; }

# wait until the proxy printed a line matching $2 (count: $3, default 1)
_said() { [ "$(grep -c "$2" "$TMP/$1.proxy")" -ge "$3" ]; }
proxy_said() { wait_for 5 _said "$1" "$2" "${3:-1}"; }

run() { # NAME MODE(tls|plaintext|fastpath)
	local name=$1 mode=$2 rargs=() cargs=() pport=7443 n1b PX
	case $mode in
	tls)
		rargs=(--cert "$TMP/pki/cert.pem" --key "$TMP/pki/key.pem")
		cargs=(--ca "$TMP/pki/cert.pem" --sni localhost)
		;;
	plaintext) rargs=(--plaintext) cargs=(--plaintext) ;;
	fastpath)
		fp_attach
		rargs=(--plaintext --fast-path on --bpf-pin-dir "$FP_PIN")
		cargs=(--plaintext)
		;;
	esac
	start_relay "$name" relay --listen 0.0.0.0:4443 "${rargs[@]}" --log-level info --stats-interval 0 \
		--ctl-socket none
	start_pub "$name-pub" pub "${cargs[@]}" --rate 100 --objects-per-group 25 "$RELAY_IP4:4443"
	wait_announce "$name"
	_in sub1 python3 "$REBIND" "$SUB_IP4_1:$pport" "$RELAY_IP4_SUB_1:4443" >"$TMP/$name.proxy" 2>&1 &
	PX=$!
	_PIDS+=("$PX")
	proxy_said "$name" ready || { cat "$TMP/$name.proxy" >&2; die "$name: udp_rebind.py did not start"; }
	start_sub "$name-s2" sub2 "${cargs[@]}" --duration 9 "$RELAY_IP4_SUB_2:4443"
	S2=$SUB_PID
	start_sub "$name-s1" sub1 "${cargs[@]}" --duration 8 "$SUB_IP4_1:$pport"
	S1=$SUB_PID
	sleep 1.5
	kill -USR1 "$PX"
	proxy_said "$name" "^blip" || die "$name: no 1-RTT packet from sub1 to move"
	sleep 1
	alive "$name" "after one 1-RTT packet from a new port and the next from the old one"
	log "$name: blip survived"
	kill -USR2 "$PX"
	sleep 1.5
	kill -USR2 "$PX"
	proxy_said "$name" "^port A" || die "$name: proxy did not switch back"
	sleep 1
	alive "$name" "after 1.5 s on a new port and back"
	log "$name: stay on a new port and back survived"
	kill -USR1 "$PX"
	proxy_said "$name" "^blip" 2 || die "$name: no 1-RTT packet for the second blip"
	wait_exit "$S1" 15 "$name: sub1"
	wait_exit "$S2" 15 "$name: sub2"
	alive "$name" "at the end"
	! grep -q "Assertion\|Aborted" "$TMP/$name.log" || die "$name: relay log shows an assertion"
	expect_intact "$name-s2"
	n1b=$(jget "$TMP/$name-s1.json" .objects_received)
	[ "$(jget "$TMP/$name-s1.json" .integrity_errors)" = 0 ] || die "$name: sub1 got corrupt objects"
	# 8 s at 100/s: the changes must not have stopped its session early
	[ "$n1b" -gt 500 ] || { cat "$TMP/$name-s1.json" >&2; die "$name: sub1 got only $n1b objects"; }
	log "$name: relay alive; sub2 byte-exact ($(jget "$TMP/$name-s2.json" .objects_received) objects); sub1 (moved) $n1b objects, $(jget "$TMP/$name-s1.json" .objects_missing) missing, 0 corrupt"
	stop "$PX"
	stop "$PUB_PID"
	stop "$RELAY_PID"
}

run tls tls
run pt plaintext
run fp fastpath
log "PASS relay_path_change"
