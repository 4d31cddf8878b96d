#!/usr/bin/env bash
# The end of a track in every order the network can make (issue 14), on the
# userspace relay, one subscriber behind a lossy link: PUBLISH_DONE in the
# same packet ahead of the last FIN; ahead of 30 streams not yet opened;
# with the last data packet lost and retransmitted after it; a publisher
# that ends by closing its session. The relay survives and every
# subscriber gets every object and a correct PUBLISH_DONE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
. "$(dirname "$0")/relay/track_end.sh"
relay_tools_check
[ -x "$PROBE" ] || die "build $PROBE first (make all)"
testbed_up 2
tb loss sub2 3 >/dev/null
tb loss sub2 2 --from >/dev/null

start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0
te_case fin 100 --end done-with-fin
te_case burst 300 --burst 30 --end done-with-fin
# --lose-last finds the packet by reading the plaintext profile; over
# WebTransport the probe publishes over native TLS, so the case is left out
if is_wt; then
	log "lost: left out over WebTransport (--lose-last needs the plaintext profile)"
else
	te_case lost 100 --lose-last
	[ "$(jget "$TMP/p-lost.json" .dropped)" = 1 ] || die "lost: the probe dropped no packet"
fi
te_case close 100 --burst 3 --end close
# PUBLISH_DONE counts 2 streams never opened: the relay ends the track by
# the draft's timer (about 1 s), its own Stream Count is what it opened
te_case phantom 100 --phantom 2
grep -q "track te--phantom: publisher PUBLISH_DONE TRACK_ENDED, 12 streams" "$TMP/relay.log" ||
	die "phantom: the publisher's PUBLISH_DONE did not count 12 streams"
te_pub pub 200 10 1
te_pub dgram 300 10 1 --datagram
# the end of a busy track behind the lossy link, narrowed to 8 Mbit/s:
# 1,500 objects/s (12 Mbit/s), 2 subgroups; the relay's backlog toward sub2
# (about a second) still drains after PUBLISH_DONE has arrived there
tb shape sub2 8mbit >/dev/null
te_pub busy 3000 20 2 --rate 1500
log "PASS relay_track_end"
