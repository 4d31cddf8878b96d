#!/usr/bin/env bash
# A real browser through the relay (docs/webtransport.md): headless Chromium
# (Debian's, driven over DevTools by wt_browser.py) opens web/player, which
# connects to moq-relayd over WebTransport with the --dev-cert hash
# (serverCertificateHashes), subscribes to the H.264 track moq-pub publishes
# (ffmpeg testsrc2, 30 fps, looped) and decodes it with WebCodecs for 12 s.
# Pass: frames decoded >= 95 % of the frames sent in that time, no decoder
# error, no gap between decoded frames over 500 ms.
# All of it runs in a network namespace of its own (loopback only).
# WT_SCREENSHOT=FILE keeps the page's screenshot there (docs/ has one).
. "$(dirname "$0")/lib.sh"

for c in chromium ffmpeg /usr/bin/python3; do
	command -v "$c" >/dev/null || die "$c missing (run install.sh)"
done
/usr/bin/python3 -c 'import websocket' 2>/dev/null || die "python3-websocket missing (run install.sh)"
RELAYD=$ROOT/$B/bin/moq-relayd
PUB=$ROOT/$B/bin/moq-pub
[ -x "$RELAYD" ] && [ -x "$PUB" ] || die "build $B first (make all)"

NS=wtb$$
TMP=$(mktemp -d /tmp/wtbrowser.$$.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$TMP"
}
at_exit cleanup
ip netns add "$NS"
ip -n "$NS" link set lo up
inns() { ip netns exec "$NS" "$@"; }
# background jobs: exec, so $! is the process itself and the cleanup's kill
# reaches it (a function run with & is a subshell with the job as its child)
inns_bg() { exec ip netns exec "$NS" "$@"; }

SECS=12
ffmpeg -loglevel error -f lavfi -i testsrc2=size=640x360:rate=30 -t 4 \
	-c:v libx264 -preset veryfast -profile:v baseline -pix_fmt yuv420p \
	-g 30 -keyint_min 30 -sc_threshold 0 -bsf:v h264_mp4toannexb -f h264 "$TMP/clip.h264" ||
	die "ffmpeg could not make the clip"

inns_bg "$RELAYD" --listen 127.0.0.1:4443 --dev-cert "$TMP/dev" --log-level info --stats-interval 0 --ctl-socket none \
	2>"$TMP/relay.log" &
PIDS+=($!)
wait_for 5 grep -q "listening on" "$TMP/relay.log" || { cat "$TMP/relay.log"; die "relay did not start"; }
HASH=$(cat "$TMP/dev/cert.sha256")
inns_bg "$PUB" --ca "$TMP/dev/cert.pem" --namespace demo --h264 "$TMP/clip.h264" --fps 30 --loop \
	https://127.0.0.1:4443/ 2>"$TMP/pub.log" &
PIDS+=($!)
inns_bg /usr/bin/python3 -m http.server --bind 127.0.0.1 8080 --directory "$ROOT/web/player" \
	>"$TMP/http.log" 2>&1 &
PIDS+=($!)
wait_for 5 grep -q "publishes namespace" "$TMP/relay.log" || { cat "$TMP/pub.log"; die "publisher did not announce"; }
wait_for 5 inns /usr/bin/python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8080/index.html")' ||
	die "the page server did not start"

PAGE="http://127.0.0.1:8080/index.html?url=https://127.0.0.1:4443/&hash=$HASH&ns=demo&track=video&seconds=$SECS"
log "chromium: $PAGE"
rc=0
inns /usr/bin/python3 "$ROOT/tests/integration/wt_browser.py" "$PAGE" "$TMP/player.png" $((SECS + 30)) \
	>"$TMP/stats.json" || rc=$?
cat "$TMP/stats.json"
[ -z "${WT_SCREENSHOT:-}" ] || cp "$TMP/player.png" "$WT_SCREENSHOT"
[ "$rc" = 0 ] || { tail -5 "$TMP/relay.log"; die "the player did not finish: $(jq -r .error "$TMP/stats.json")"; }
j() { jq -r "$1" "$TMP/stats.json"; }
sent=$(j .sent) dec=$(j .frames_decoded) errs=$(j .decode_errors) gap=$(j .max_gap_ms) secs=$(j .playing_s)
awk "BEGIN { exit !($secs >= 10) }" || die "played only $secs s"
[ "$sent" -ge $((SECS * 30 * 9 / 10)) ] || die "only $sent frames sent in $SECS s"
[ "$((dec * 100))" -ge $((sent * 95)) ] || die "decoded $dec of $sent frames (< 95 %)"
[ "$errs" = 0 ] || die "$errs decoder errors"
awk "BEGIN { exit !($gap <= 500) }" || die "a $gap ms stall (> 500 ms)"
log "Chromium played $secs s: $dec of $sent frames decoded, longest gap $gap ms, 0 decoder errors"
log "PASS wt_browser"
