# tests/integration/relay/track_end.sh - the ends of a track in the orders
# issue 14 found (PUBLISH_DONE ahead of the last FIN, ahead of whole
# streams, ahead of a lost data packet's retransmission; a publisher that
# closes its session), made on purpose by moq-relay-probe --publish. Source
# after lib.sh, relay/common.sh, testbed_up and the relay's start:
#
#   te_case TAG N ARGS...   the probe publishes track te/TAG: N objects, 10
#                           per group (one stream each), ending as ARGS say;
#                           every subscriber (sub1..subN of the testbed)
#                           must get all N objects intact and PUBLISH_DONE
#                           TRACK_ENDED whose Stream Count is N/10, and the
#                           relay must still run.

_te_subscribed() { [ "$(grep -c "track te--$1: subscriber .* alias" "$TMP/relay.log")" -ge "$SUBSCRIBERS" ]; }

te_case() {
	local tag=$1 n=$2 i v pr pids=() f
	shift 2
	wt_probe_args --plaintext --namespace te --track "$tag" --publish "$n" --timeout 30 \
		--wait-file "$TMP/go-$tag" "$@" "$RELAY_IP4:4443"
	on pub "$PROBE" "${WT_ARGS[@]}" >"$TMP/p-$tag.json" &
	pr=$!
	_PIDS+=("$pr")
	wait_for 3 grep -q "track te--$tag published by" "$TMP/relay.log" ||
		{ tail -5 "$TMP/relay.log" >&2; die "$tag: relay did not accept the PUBLISH"; }
	for i in $(seq 1 "$SUBSCRIBERS"); do
		v=RELAY_IP4_SUB_$i
		# start:0: a late handshake over the lossy link still gets all
		start_sub "$tag-s$i" "sub$i" --plaintext --namespace te --track "$tag" "${!v}:4443"
		pids+=("$SUB_PID")
	done
	# the track starts once every subscriber is in (a handshake over the
	# lossy link can take seconds)
	wait_for 15 _te_subscribed "$tag" ||
		die "$tag: not every subscriber subscribed within 15 s"
	touch "$TMP/go-$tag"
	for v in "${pids[@]}"; do wait_exit "$v" 20 "$tag subscriber"; done
	wait_exit "$pr" 10 probe
	kill -0 "$RELAY_PID" 2>/dev/null || { tail -20 "$TMP/relay.log" >&2; die "$tag: the relay died"; }
	! grep -q "AddressSanitizer\|runtime error" "$TMP/relay.log" ||
		{ grep -A20 "AddressSanitizer\|runtime error" "$TMP/relay.log" >&2; die "$tag: sanitizer report"; }
	for i in $(seq 1 "$SUBSCRIBERS"); do
		f=$TMP/$tag-s$i.json
		expect_intact "$tag-s$i"
		[ "$(jget "$f" .objects_received)" = "$n" ] ||
			{ cat "$f" >&2; die "$tag: sub$i got $(jget "$f" .objects_received) of $n objects"; }
		[ "$(jget "$f" '.tracks[0].publish_done')" = true ] || die "$tag: sub$i got no PUBLISH_DONE"
		[ "$(jget "$f" '.tracks[0].publish_done_status')" = 2 ] ||
			die "$tag: sub$i: PUBLISH_DONE status $(jget "$f" '.tracks[0].publish_done_status'), not TRACK_ENDED (2)"
		[ "$(jget "$f" '.tracks[0].publish_done_streams')" = $((n / 10)) ] ||
			die "$tag: sub$i: PUBLISH_DONE Stream Count $(jget "$f" '.tracks[0].publish_done_streams'), relay opened $((n / 10))"
	done
	log "$tag: every subscriber got $n/$n objects and PUBLISH_DONE TRACK_ENDED with Stream Count $((n / 10))"
}

#   te_pub TAG N OPG SGS ARGS...  the same with moq-pub (relay mode,
#                           namespace tp) ending its track after N objects,
#                           OPG per group in SGS subgroups (a stream each):
#                           PUBLISH_DONE must reach the relay before
#                           moq-pub's CONNECTION_CLOSE, and the tail of the
#                           track the lossy subscriber. ARGS go to moq-pub
#                           after --rate 100 (e.g.
#                           --datagram: the lossless sub1 alone, Stream
#                           Count 0; its last datagram must not be lost).
_te_announced() { [ "$(grep -c "publishes namespace" "$TMP/relay.log")" -gt "$1" ]; }

te_pub() {
	local tag=$1 n=$2 opg=$3 sgs=$4 i v pids=() f dg=0 last=$SUBSCRIBERS
	shift 4
	case " $* " in *" --datagram "*) dg=1 last=1 ;; esac
	# moq-pub announces first and waits for the relay's SUBSCRIBE; then
	# the subscribers, together, so that none of them comes in retrying
	# (200 ms later) while the track is running: this test is about the
	# end of a track, joins have their own tests. 100 objects/s: the
	# track lasts seconds, so a SUBSCRIBE that a lost handshake packet on
	# the lossy link delays by a PTO (~1 s) still finds it running (at
	# 500/s it had ended under load: DOES_NOT_EXIST). Datagrams: the lossless
	# sub1 alone (the relay's cache replays no datagrams to a later
	# joiner, and a lossy link loses some)
	local announced
	announced=$(grep -c "publishes namespace" "$TMP/relay.log" || true)
	start_pub "tp-$tag" pub --plaintext --namespace tp --track "$tag" --count "$n" --rate 100 \
		--objects-per-group "$opg" --subgroups-per-group "$sgs" --wait-subscribers 1 "$@" \
		"$RELAY_IP4:4443"
	local pp=$PUB_PID
	wait_for 10 _te_announced "$announced" ||
		{ tail -n 5 "$TMP/relay.log" >&2; tail -n 5 "$TMP/tp-$tag.log" >&2; die "$tag: moq-pub did not announce"; }
	for i in $(seq 1 "$last"); do
		v=RELAY_IP4_SUB_$i
		start_sub "$tag-s$i" "sub$i" --plaintext --namespace tp --track "$tag" --filter start:0 \
			--retry 15 "${!v}:4443"
		pids+=("$SUB_PID")
	done
	for v in "${pids[@]}"; do wait_exit "$v" 20 "$tag subscriber"; done
	wait_exit "$pp" 10 moq-pub
	kill -0 "$RELAY_PID" 2>/dev/null || { tail -20 "$TMP/relay.log" >&2; die "$tag: the relay died"; }
	grep -q "track tp--$tag: publisher PUBLISH_DONE TRACK_ENDED\|track tp--$tag: upstream PUBLISH_DONE TRACK_ENDED" "$TMP/relay.log" ||
		{ grep "tp--$tag" "$TMP/relay.log" | tail -5 >&2; die "$tag: no PUBLISH_DONE TRACK_ENDED from moq-pub reached the relay"; }
	# A subscriber whose SUBSCRIBE came in after the track started (the
	# relay subscribes upstream once, for the first) starts at a later
	# group; from there on it must have everything up to the end: whole
	# groups only, every stream the relay's PUBLISH_DONE counts arrived.
	local full=0 got
	for i in $(seq 1 "$last"); do
		f=$TMP/$tag-s$i.json
		expect_intact "$tag-s$i"
		got=$(jget "$f" .objects_received)
		[ "$got" = "$n" ] && full=$((full + 1))
		[ "$(jget "$f" '.tracks[0].publish_done_status')" = 2 ] ||
			die "$tag: sub$i: PUBLISH_DONE status $(jget "$f" '.tracks[0].publish_done_status'), not TRACK_ENDED (2)"
		if [ $dg = 1 ]; then
			[ "$got" = "$n" ] || die "$tag: sub$i got $got of $n datagrams"
			continue
		fi
		[ "$((got % opg))" = 0 ] && [ "$(jget "$f" .groups_complete)" = $((got / opg)) ] ||
			{ cat "$f" >&2; die "$tag: sub$i: $got objects, not whole groups up to the end"; }
		[ "$(jget "$f" '.tracks[0].streams')" = "$(jget "$f" '.tracks[0].publish_done_streams')" ] ||
			{ cat "$f" >&2; die "$tag: sub$i: $(jget "$f" '.tracks[0].streams') streams of the $(jget "$f" '.tracks[0].publish_done_streams') PUBLISH_DONE counts"; }
	done
	[ $full -ge 1 ] || die "$tag: no subscriber got all $n objects"
	log "$tag: moq-pub ended its track with PUBLISH_DONE; every subscriber got the whole tail ($full with all $n objects)"
}
