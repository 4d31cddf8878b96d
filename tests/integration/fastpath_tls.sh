#!/usr/bin/env bash
# The encrypted fast path end to end (issue 19, docs/fast-path-tls.md):
# unmodified TLS moq-pub and moq-sub (no --plaintext anywhere; the relay's
# development certificate pinned with --cert-hash) through moq-relayd
# --fast-path on. The publisher's packets are opened in the kernel
# (upstream_ingress FORWARDED, no aead_open_failed), the clones sealed for
# each TLS_AES_128_GCM_SHA256 subscriber (subscriber_egress FORWARDED), and
# their media ACKs opened and consumed in the kernel (subscriber_ingress
# ack_consumed >= FPT_ACK_SHARE % of the subscribers' packets, default 50,
# 25 with loss: ACKs with gaps or of retransmitted (guarded) packets go to
# the agent; none fails to open).
# FPT_MODE picks the case (one per script, each well under 90 s):
#   base       3 AES-128-GCM subscribers byte-exact, >= 99 % of their media
#              packets sealed in the kernel (agent's counters; the egress
#              program's FORWARDED agrees), moq-relayctl shows them as
#              kernel (TLS); a 4th subscriber offering only
#              CHACHA20-POLY1305 is served by userspace byte-exact, shown as
#              userspace (cipher suite) and counted (tls_userspace=1)
#   loss       (fastpath_tls_loss.sh) 2 % loss towards sub1 and sub2: all 4
#              byte-exact through the agent's retransmissions (sealed by
#              the QUIC layer), retransmits > 0
#   keyupdate  (fastpath_tls_keyupdate.sh) sub1 initiates a key update every
#              200 packets it receives (moq-sub --key-update-every 200):
#              byte-exact, the relay followed (key_changes > 0) and the
#              kernel kept sealing (share >= 90 %)
#   kill       (fastpath_tls_kill.sh) agent killed mid-stream: the kernel
#              stops forwarding within the heartbeat timeout and no packet
#              the subscriber cannot decrypt reaches it (ngtcp2's "could not
#              decrypt packet payload" log lines, MOQ_NGTCP2_LOG), no
#              corrupt object; a restarted agent wipes the dead one's keys
#              and serves a new subscriber
# FPT_COUNT (objects per subscriber) / FPT_RATE shrink or grow the load.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
MODE=${FPT_MODE:-base}
case "$MODE" in base | loss | keyupdate | kill) ;; *) die "FPT_MODE=$MODE" ;; esac
[ "$MODE" = loss ] && : "${FPT_ACK_SHARE:=25}"
# base: no tx checksum offload on any link, so every stack on the way
# verifies UDP checksums (veth otherwise keeps CHECKSUM_PARTIAL and never
# notices a wrong one): the relay's stack those of the publisher's packets
# the kernel opened, rewrote and stored back for the agent, each
# subscriber's those of its sealed clones (UdpInCsumErrors must stay 0)
if [ "$MODE" = base ]; then testbed_up 4 --csum-offload off; else testbed_up 4; fi
. "$(dirname "$0")/relay/fastpath.sh"
fp_attach
[ -n "${FPT_KEEP_LOGS:-}" ] && at_exit "mkdir -p '$FPT_KEEP_LOGS' && cp -r '$TMP'/* '$FPT_KEEP_LOGS'/ 2>/dev/null"

COUNT=${FPT_COUNT:-4000}
RATE=${FPT_RATE:-400}
CERT=$TMP/dc
SOCK=$TMP/ctl.sock
CTL=$ROOT/$B/bin/moq-relayctl
RARGS=(--listen 0.0.0.0:4443 --dev-cert "$CERT" --log-level info --stats-interval 1)
# the option of moq-sub that restricts the offered TLS 1.3 suites
CIPHERS_OPT=${FPT_CIPHERS_OPT:---tls-ciphers}

fp_field() { grep -o "fastpath subs=.*" "$TMP/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | tr -d '%'; }
sub_ip() { local v=RELAY_IP4_SUB_$1; echo "${!v}"; }
hash() { cat "$CERT/cert.sha256"; }
R_NO_KEYS=$(fp_reason_index no_keys)
R_OPEN_FAILED=$(fp_reason_index aead_open_failed)
R_ACK=$(fp_reason_index ack_consumed)
R_SUB_RX=$(fp_reason_index sub_rx)
R_PN_DUP=$(fp_reason_index pn_duplicate)

no_error_close() { # relay-log sub-names...
	local r=$1 n
	shift
	for n in "$@"; do
		grep -q '"exit_code":0' "$TMP/$n.json" || { cat "$TMP/$n.json" "$TMP/$n.log" >&2; die "$n: exit code not 0"; }
	done
	! grep -E "closed \(code 0x[1-9a-f]|PROTOCOL_VIOLATION|FLOW_CONTROL|FINAL_SIZE|STREAM_STATE" "$TMP/$r.log" ||
		die "$r: a connection was closed with an error"
}

# the kernel's side: publisher packets opened, clones sealed, nothing
# refused for a bad tag or missing keys, the TLS subscribers' ACKs opened
# (none failing) and consumed: ack_consumed / the slots' packets (passed:
# sub_rx, no_keys, pn_duplicate; the CHACHA20 subscriber has no slot)
kernel_ok() {
	local up_fwd eg_fwd open_failed nokeys_up nokeys_eg acks sub_fail sub_pkts
	up_fwd=$(fp_stat 0 0)
	eg_fwd=$(fp_stat 1 0)
	open_failed=$(fp_stat 0 "$R_OPEN_FAILED")
	nokeys_up=$(fp_stat 0 "$R_NO_KEYS")
	nokeys_eg=$(fp_stat 1 "$R_NO_KEYS")
	acks=$(fp_stat 2 "$R_ACK")
	sub_fail=$(fp_stat 2 "$R_OPEN_FAILED")
	sub_pkts=$((acks + $(fp_stat 2 "$R_SUB_RX") + $(fp_stat 2 "$R_NO_KEYS") + $(fp_stat 2 "$R_PN_DUP") + sub_fail))
	ACK_SHARE=$(python3 -c "print(round(100.0 * $acks / max($sub_pkts, 1), 1))")
	log "kernel: upstream opened+cloned $up_fwd, egress sealed $eg_fwd, aead_open_failed $open_failed/$sub_fail, no_keys $nokeys_up/$nokeys_eg/$(fp_stat 2 "$R_NO_KEYS"), subscribers' ack_consumed $acks of $sub_pkts ($ACK_SHARE %)"
	[ "$up_fwd" -gt 0 ] || die "no publisher packet was opened and cloned in the kernel"
	[ "$eg_fwd" -gt 0 ] || die "no clone was sealed for a subscriber"
	[ "$open_failed" = 0 ] || die "$open_failed publisher packets failed to open in the kernel"
	[ "$nokeys_up" = 0 ] || die "$nokeys_up publisher packets found no keys"
	# a wrong packet-number decode fails the tag: the rx window is off
	[ "$sub_fail" = 0 ] || die "$sub_fail subscriber packets failed to open in the kernel"
	python3 -c "import sys; sys.exit(0 if $ACK_SHARE >= ${FPT_ACK_SHARE:-50} else 1)" ||
		die "only $ACK_SHARE % of the TLS subscribers' packets consumed in the kernel (want >= ${FPT_ACK_SHARE:-50} %)"
	EG_FWD=$eg_fwd NOKEYS_EG=$nokeys_eg
}

start_tls_pub() { # NAME
	start_pub "$1" pub --cert-hash "$(hash)" --rate "$RATE" --object-size 1000 --objects-per-group 10 \
		--track test "$RELAY_IP4:4443"
	wait_announce "$2"
}

ctlj() { "$CTL" --socket "$SOCK" --pin-dir "$FP_PIN" --json "$@"; }

# Udp InCsumErrors of a host's network namespace
csum_errors() {
	on "$1" awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == "InCsumErrors") c = i; h = 1 } else print $c }' /proc/net/snmp
}

case "$MODE" in
base | loss | keyupdate)
	if [ "$MODE" = loss ]; then
		tb loss sub1 2
		tb loss sub2 2
		at_exit "tb loss sub1 0 >/dev/null 2>&1; tb loss sub2 0 >/dev/null 2>&1"
	fi
	fp_relay relay "${RARGS[@]}" --ctl-socket "$SOCK" --metrics-listen 127.0.0.1:9464
	start_tls_pub pub relay
	names=() pids=()
	for i in 1 2 3 4; do
		extra=()
		[ "$MODE" = base ] && [ "$i" = 4 ] && extra=("$CIPHERS_OPT" CHACHA20-POLY1305)
		[ "$MODE" = keyupdate ] && [ "$i" = 1 ] && extra=(--key-update-every 200)
		start_sub "s$i" "sub$i" --cert-hash "$(hash)" --count "$COUNT" --connect-timeout 10 \
			"${extra[@]}" "$(sub_ip "$i"):4443"
		names+=("s$i") pids+=("$SUB_PID")
	done
	if [ "$MODE" = base ]; then
		# while they run: how moq-relayctl shows each connection
		wait_for 10 sh -c "'$CTL' --socket '$SOCK' --pin-dir '$FP_PIN' --json subscribers |
			jq -e '[.daemon.sessions[] | select(.subscriptions_count > 0)] | length == 4'" ||
			{ ctlj subscribers >&2; die "moq-relayctl subscribers: not 4 subscribing sessions"; }
		ctlj subscribers >"$TMP/subscribers.json"
		"$CTL" --socket "$SOCK" --pin-dir "$FP_PIN" subscribers >"$TMP/subscribers.txt"
		modes=$(jq -r '.daemon.sessions[] | select(.subscriptions_count > 0) |
			"\(.peer) \(.fast_path_mode) \(.fast_path_note // "")"' "$TMP/subscribers.json")
		echo "$modes"
		[ "$(grep -c " kernel TLS" <<<"$modes")" = 3 ] || die "not 3 TLS subscribers on the fast path"
		[ "$(grep -c " userspace .*cipher suite" <<<"$modes")" = 1 ] ||
			die "the CHACHA20 subscriber is not shown as userspace (cipher suite)"
		grep -q "fast path: userspace (.*cipher suite" "$TMP/subscribers.txt" ||
			{ cat "$TMP/subscribers.txt" >&2; die "moq-relayctl subscribers (text) does not say why"; }
		on relay python3 "$ROOT/tests/integration/metrics/scrape.py" -o "$TMP/m.prom" \
			"http://127.0.0.1:9464/metrics" >/dev/null || die "no metrics"
		grep -q '^moq_relay_fp_tls_userspace_total{reason="cipher_suite"} 1$' "$TMP/m.prom" ||
			{ grep fp_tls "$TMP/m.prom" >&2; die "metrics: the CHACHA20 subscriber is not counted"; }
		ke=$(awk '$1 == "moq_relay_fp_tls_key_exports_total" { print $2 }' "$TMP/m.prom")
		# 3 subscriber slots and the publisher
		[ "${ke:-0}" -ge 4 ] || die "metrics: key_exports_total ${ke:-none}, want >= 4"
	fi
	for p in "${pids[@]}"; do wait_exit "$p" $((COUNT / RATE + 45)) "a TLS subscriber"; done
	sleep 1.2 # one more stats line
	grep -o "fastpath subs=.*" "$TMP/relay.log" | tail -1
	for n in "${names[@]}"; do
		expect_intact "$n"
		[ "$(jget "$TMP/$n.json" .objects_received)" = "$COUNT" ] ||
			die "$n: $(jget "$TMP/$n.json" .objects_received) of $COUNT objects"
	done
	no_error_close relay "${names[@]}"
	kernel_ok
	kp=$(fp_field relay kernel_pkts)
	ap=$(fp_field relay agent_pkts)
	share=$(fp_field relay kernel_share)
	rt=$(fp_field relay retransmits)
	log "agent's counters: kernel $kp, agent $ap packets (share $share %), retransmits $rt; egress FORWARDED $EG_FWD"
	case "$MODE" in
	base)
		for h in relay sub1 sub2 sub3 sub4; do
			ce=$(csum_errors "$h")
			[ "$ce" = 0 ] || die "$h: $ce UDP checksum errors"
		done
		python3 -c "import sys; sys.exit(0 if float('$share') >= 99.0 else 1)" ||
			die "only $share % of the TLS subscribers' media packets sealed in the kernel (want >= 99 %)"
		# every clone the agent counts as forwarded was sealed by the egress program
		[ "$EG_FWD" -ge "$kp" ] || die "egress FORWARDED $EG_FWD < the agent's kernel packets $kp"
		[ "$NOKEYS_EG" = 0 ] || die "$NOKEYS_EG clones found no keys"
		[ "$(fp_field relay tls_userspace)" = 1 ] || die "tls_userspace $(fp_field relay tls_userspace), want 1"
		grep -q "not on the fast path (TLS cipher suite is not TLS_AES_128_GCM_SHA256)" "$TMP/relay.log" ||
			die "the relay did not log why the CHACHA20 subscriber stays in userspace"
		log "PASS fastpath_tls: 3 AES-128-GCM subscribers sealed in the kernel ($share %), a CHACHA20 one in userspace, all byte-exact"
		;;
	loss)
		[ "${rt:-0}" -gt 0 ] || die "2 % loss on two links but no retransmission"
		log "PASS fastpath_tls_loss: 4 TLS subscribers byte-exact, 2 % loss on 2 links, $rt retransmits"
		;;
	keyupdate)
		ku=$(jget "$TMP/s1.json" '.key_updates // 0')
		kc=$(fp_field relay key_changes)
		log "s1 initiated $ku key updates; the relay saw $kc key changes"
		[ "${kc:-0}" -gt 0 ] || die "no key change reached the agent"
		python3 -c "import sys; sys.exit(0 if float('$share') >= 90.0 else 1)" ||
			die "only $share % sealed in the kernel across key updates"
		[ "$NOKEYS_EG" = 0 ] || die "$NOKEYS_EG clones found no keys"
		log "PASS fastpath_tls_keyupdate: byte-exact across $kc key changes, $share % sealed in the kernel"
		;;
	esac
	;;
kill)
	fp_relay kill "${RARGS[@]}" --ctl-socket none --heartbeat-timeout 0.3
	start_tls_pub kill-pub kill
	# ngtcp2 logs every packet it cannot decrypt (and more): the count of
	# those lines is what the subscriber's stack dropped silently
	export MOQ_NGTCP2_LOG=1
	start_sub kill-s1 sub1 --cert-hash "$(hash)" --duration 6 --connect-timeout 5 "$(sub_ip 1):4443"
	KS=$SUB_PID
	unset MOQ_NGTCP2_LOG
	sleep 2
	f0=$(fp_stat 1 0)
	kill -9 "$RELAY_PID"
	sleep 0.6 # > heartbeat timeout
	s1=$(fp_stat 0 1)
	f1=$(fp_stat 1 0)
	sleep 1
	s2=$(fp_stat 0 1)
	f2=$(fp_stat 1 0)
	log "FORWARDED (sealed) $f0 -> $f1 -> $f2, STALE_AGENT $s1 -> $s2"
	[ "$f0" -gt 0 ] || die "nothing was sealed in the kernel before the kill"
	[ "$f2" = "$f1" ] || die "the kernel kept forwarding after the heartbeat timeout"
	[ "$s2" -gt "$s1" ] || die "STALE_AGENT did not grow with the agent dead"
	wait_exit "$KS" 40 "the orphaned subscriber"
	bad=$(grep -c "could not decrypt packet payload" "$TMP/kill-s1.log" || true)
	pk=$(grep -c "pkt rx .*type=1RTT" "$TMP/kill-s1.log" || true)
	log "subscriber: $bad packets it could not decrypt ($pk 1-RTT packets logged received)"
	[ "$pk" -gt 100 ] || die "the subscriber's ngtcp2 log shows $pk 1-RTT packets: no count to trust"
	[ "$bad" = 0 ] || die "$bad undecryptable packets reached the subscriber"
	[ "$(jget "$TMP/kill-s1.json" .objects_received)" -gt 0 ] || die "the subscriber got nothing before the kill"
	[ "$(jget "$TMP/kill-s1.json" .integrity_errors)" = 0 ] || die "corrupt object after the agent died"
	log "restart"
	stop "$PUB_PID"
	fp_relay kill2 "${RARGS[@]}" --ctl-socket none
	# the killed agent's keys are still in the maps: the new one wipes them
	grep -q "wiped the TLS keys an earlier run left" "$TMP/kill2.log" ||
		die "the restarted agent did not wipe the killed one's keys"
	start_tls_pub kill2-pub kill2
	start_sub kill2-s2 sub2 --cert-hash "$(hash)" --count 1500 --connect-timeout 5 "$(sub_ip 2):4443"
	wait_exit "$SUB_PID" 30 "the subscriber of the restarted agent"
	expect_intact kill2-s2
	sleep 1.2
	[ "$(fp_field kill2 kernel_pkts)" -gt 1000 ] || die "restarted agent: the kernel sealed nothing"
	no_error_close kill2 kill2-s2
	log "PASS fastpath_tls_kill: forwarding stops with the agent, nothing undecryptable reached the subscriber, a restarted agent serves byte-exact"
	;;
esac
stop "$PUB_PID"
stop "$RELAY_PID"
