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

te_case() {
	local tag=$1 n=$2 i v pr pids=() f
	shift 2
	on pub "$PROBE" --plaintext --namespace te --track "$tag" --publish "$n" --timeout 12 \
		"$@" "$RELAY_IP4:4443" >"$TMP/p-$tag.json" &
	pr=$!
	_PIDS+=("$pr")
	wait_for 3 grep -q "track te--$tag published by" "$TMP/relay.log" ||
		{ tail -5 "$TMP/relay.log" >&2; die "$tag: relay did not accept the PUBLISH"; }
	for i in $(seq 1 "$SUBSCRIBERS"); do
		v=RELAY_IP4_SUB_$i
		start_sub "$tag-s$i" "sub$i" --plaintext --namespace te --track "$tag" "${!v}:4443"
		pids+=("$SUB_PID")
	done
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

#   te_pub TAG N ARGS...    the same with moq-pub (relay mode, namespace tp)
#                           ending its track after N objects: PUBLISH_DONE
#                           must reach the relay before moq-pub's
#                           CONNECTION_CLOSE. ARGS go to moq-pub (e.g.
#                           --datagram: the lossless sub1 alone, Stream
#                           Count 0; its last datagram must not be lost).
te_pub() {
	local tag=$1 n=$2 i v pids=() f dg=0 streams last=$SUBSCRIBERS
	shift 2
	case " $* " in *" --datagram "*) dg=1 last=1 ;; esac
	streams=$((dg ? 0 : n / 10))
	start_pub "tp-$tag" pub --plaintext --namespace tp --track "$tag" --count "$n" --rate 500 \
		--objects-per-group 10 --wait-subscribers 1 "$@" "$RELAY_IP4:4443"
	local pp=$PUB_PID
	wait_for 5 grep -q "publishes namespace" "$TMP/relay.log" || die "$tag: moq-pub did not announce"
	# datagrams: the lossless sub1 alone (the relay's cache replays no
	# datagrams to a later joiner, and a lossy link loses some)
	for i in $(seq 1 "$last"); do
		v=RELAY_IP4_SUB_$i
		start_sub "$tag-s$i" "sub$i" --plaintext --namespace tp --track "$tag" --filter start:0 "${!v}:4443"
		pids+=("$SUB_PID")
	done
	for v in "${pids[@]}"; do wait_exit "$v" 20 "$tag subscriber"; done
	wait_exit "$pp" 10 moq-pub
	kill -0 "$RELAY_PID" 2>/dev/null || { tail -20 "$TMP/relay.log" >&2; die "$tag: the relay died"; }
	grep -q "track tp--$tag: publisher PUBLISH_DONE TRACK_ENDED\|track tp--$tag: upstream PUBLISH_DONE TRACK_ENDED" "$TMP/relay.log" ||
		{ grep "tp--$tag" "$TMP/relay.log" | tail -5 >&2; die "$tag: no PUBLISH_DONE TRACK_ENDED from moq-pub reached the relay"; }
	for i in $(seq 1 "$last"); do
		f=$TMP/$tag-s$i.json
		expect_intact "$tag-s$i"
		[ "$(jget "$f" .objects_received)" = "$n" ] ||
			{ cat "$f" >&2; die "$tag: sub$i got $(jget "$f" .objects_received) of $n objects"; }
		[ "$(jget "$f" '.tracks[0].publish_done_status')" = 2 ] ||
			die "$tag: sub$i: PUBLISH_DONE status $(jget "$f" '.tracks[0].publish_done_status'), not TRACK_ENDED (2)"
		[ "$(jget "$f" '.tracks[0].publish_done_streams')" = "$streams" ] ||
			die "$tag: sub$i: PUBLISH_DONE Stream Count $(jget "$f" '.tracks[0].publish_done_streams'), expected $streams"
	done
	log "$tag: moq-pub ended its track with PUBLISH_DONE; $n/$n objects, Stream Count $streams"
}
