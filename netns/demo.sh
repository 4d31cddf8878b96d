#!/usr/bin/env bash
# netns/demo.sh - moq-relayd streaming real video in the netns testbed.
#
#   sudo B=build netns/demo.sh        (or: make demo)
#
# Builds a testbed (publisher, relay, DEMO_SUBS subscribers on their own
# links), makes an H.264 clip with ffmpeg (testsrc2 640x360, 30 fps, a
# keyframe every 30 frames), starts moq-relayd, a publisher of that clip
# (looped, one group per GOP) and a publisher of a synthetic track, and on
# every subscriber host one moq-sub per track. After DEMO_SECONDS it prints
# a table per subscriber: objects, bytes, integrity errors, latency p50/p99
# (publisher -> subscriber through the relay, CLOCK_MONOTONIC timestamps in
# the payloads), and the frames ffprobe decodes from the video each
# subscriber wrote. Everything is torn down at exit (trap).
#
# Browsers (docs/webtransport.md): when Debian's chromium is installed (or
# DEMO_BROWSER=1; DEMO_BROWSER=0 turns it off) the demo also runs, on this
# host's loopback, a moq-relayd with --dev-cert on 127.0.0.1:$DEMO_WT_PORT
# (WebTransport), a publisher of the same clip to it and a page server for
# web/player on 127.0.0.1:$DEMO_HTTP_PORT; it prints the URL to open in a
# Chromium-based browser on this machine, and a headless Chromium plays it
# for the run (row "chromium" in the table: objects, frames decoded,
# dropped, latency from the page's figures).
#
# Environment: DEMO_SECONDS (20), DEMO_SUBS (4), DEMO_TLS=1 (TLS with a
# certtool certificate instead of the plaintext profile), DEMO_BROWSER
# (auto), DEMO_WT_PORT (4433), DEMO_HTTP_PORT (8080), B (build dir).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
SECS=${DEMO_SECONDS:-20}
NSUB=${DEMO_SUBS:-4}
P=demo$$
P=${P:0:12}
TB=$ROOT/netns/testbed.sh
TMP=$(mktemp -d /tmp/moq-demo.XXXXXX)
PIDS=()

die() { echo "demo: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces): sudo B=$B $0"
for t in moq-relayd moq-pub moq-sub; do
	[ -x "$B/bin/$t" ] || die "$B/bin/$t missing: run make first"
done
for t in ffmpeg ffprobe jq; do command -v $t >/dev/null || die "$t missing (run install.sh)"; done

cleanup() {
	local p
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	"$TB" down --prefix "$P" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=netns/bpffs.sh
. "$ROOT/netns/bpffs.sh"
moq_ensure_bpffs /sys/fs/bpf || die "no BPF filesystem at /sys/fs/bpf: run 'mount -t bpf bpf /sys/fs/bpf'"
echo "== testbed: publisher, relay, $NSUB subscribers (prefix $P)"
"$TB" up --subscribers "$NSUB" --prefix "$P" >/dev/null
# shellcheck disable=SC1090
. "/run/moq-testbed/$P.env"
in_ns() { local ns=$1; shift; exec nsenter --net="/run/netns/$ns" -- "$@"; }
sub_ns() { local v=SUB_NS_$1; echo "${!v}"; }
sub_relay() { local v=RELAY_IP4_SUB_$1; echo "${!v}"; }

echo "== clip: ffmpeg testsrc2 640x360 30 fps, keyframe every 30 frames, 10 s (looped)"
ffmpeg -loglevel error -f lavfi -i testsrc2=size=640x360:rate=30 -t 10 \
	-c:v libx264 -preset veryfast -profile:v baseline -pix_fmt yuv420p \
	-g 30 -keyint_min 30 -sc_threshold 0 -bsf:v h264_mp4toannexb -f h264 "$TMP/clip.h264"
echo "   $(stat -c %s "$TMP/clip.h264") bytes, $(ffprobe -v error -count_frames -select_streams v:0 \
	-show_entries stream=nb_read_frames -of csv=p=0 "$TMP/clip.h264") frames"

MODE=(--plaintext)
CMODE=(--plaintext)
if [ "${DEMO_TLS:-0}" = 1 ]; then
	cat >"$TMP/tmpl" <<-EOT
		cn = "moq-demo"
		ip_address = "10.77.0.1"
		$(for i in $(seq 1 "$NSUB"); do echo "ip_address = \"10.77.$i.1\""; done)
		ca
		cert_signing_key
		signing_key
		tls_www_server
		expiration_days = 2
	EOT
	certtool --generate-privkey --key-type=ecdsa --outfile "$TMP/key.pem" 2>/dev/null
	certtool --generate-self-signed --load-privkey "$TMP/key.pem" --template "$TMP/tmpl" \
		--outfile "$TMP/cert.pem" 2>/dev/null
	MODE=(--cert "$TMP/cert.pem" --key "$TMP/key.pem")
	CMODE=(--ca "$TMP/cert.pem")
fi

echo "== relay: moq-relayd ${MODE[*]} on $RELAY_NS"
in_ns "$RELAY_NS" "$B/bin/moq-relayd" "${MODE[@]}" --listen 0.0.0.0:4443 --log-level info \
	--stats-interval 5 2>"$TMP/relay.log" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "listening on" "$TMP/relay.log" && break; sleep 0.1; done
grep -q "listening on" "$TMP/relay.log" || { cat "$TMP/relay.log"; die "relay did not start"; }

echo "== publishers: H.264 clip (namespace demo, track video) and synthetic (namespace synth, track test)"
in_ns "$PUB_NS" "$B/bin/moq-pub" "${CMODE[@]}" --namespace demo --h264 "$TMP/clip.h264" --fps 30 --loop \
	"$RELAY_IP4:4443" 2>"$TMP/pub-video.log" &
PIDS+=($!)
in_ns "$PUB_NS" "$B/bin/moq-pub" "${CMODE[@]}" --namespace synth --rate 100 --object-size 1200 \
	--objects-per-group 30 --subgroups-per-group 2 "$RELAY_IP4:4443" 2>"$TMP/pub-synth.log" &
PIDS+=($!)
for _ in $(seq 50); do [ "$(grep -c 'publishes namespace' "$TMP/relay.log")" -ge 2 ] && break; sleep 0.1; done

echo "== subscribers: $NSUB hosts x 2 tracks for ${SECS} s"
SPIDS=()
for i in $(seq 1 "$NSUB"); do
	in_ns "$(sub_ns "$i")" "$B/bin/moq-sub" "${CMODE[@]}" --namespace demo --track video --duration "$SECS" \
		--output "$TMP/sub$i.h264" --json --quiet "$(sub_relay "$i"):4443" >"$TMP/sub$i-video.json" 2>"$TMP/sub$i-video.log" &
	SPIDS+=($!)
	in_ns "$(sub_ns "$i")" "$B/bin/moq-sub" "${CMODE[@]}" --namespace synth --track test --duration "$SECS" \
		--json --quiet "$(sub_relay "$i"):4443" >"$TMP/sub$i-synth.json" 2>"$TMP/sub$i-synth.log" &
	SPIDS+=($!)
done
PIDS+=("${SPIDS[@]}")

BROWSER=${DEMO_BROWSER:-auto}
if [ "$BROWSER" = auto ]; then
	BROWSER=0
	command -v chromium >/dev/null && /usr/bin/python3 -c 'import websocket' 2>/dev/null && BROWSER=1
fi
if [ "$BROWSER" = 1 ]; then
	WTP=${DEMO_WT_PORT:-4433}
	HTP=${DEMO_HTTP_PORT:-8080}
	echo "== browser: moq-relayd --dev-cert on 127.0.0.1:$WTP (WebTransport), web/player on 127.0.0.1:$HTP"
	"$B/bin/moq-relayd" --listen "127.0.0.1:$WTP" --dev-cert "$TMP/dev" --ctl-socket none --log-level info \
		--stats-interval 0 2>"$TMP/relay-wt.log" &
	PIDS+=($!)
	for _ in $(seq 50); do grep -q "listening on" "$TMP/relay-wt.log" && break; sleep 0.1; done
	grep -q "listening on" "$TMP/relay-wt.log" || { cat "$TMP/relay-wt.log"; die "WebTransport relay did not start"; }
	"$B/bin/moq-pub" --ca "$TMP/dev/cert.pem" --namespace demo --h264 "$TMP/clip.h264" --fps 30 --loop \
		"https://127.0.0.1:$WTP/" 2>"$TMP/pub-wt.log" &
	PIDS+=($!)
	/usr/bin/python3 -m http.server --bind 127.0.0.1 "$HTP" --directory "$ROOT/web/player" \
		>"$TMP/http.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do grep -q "publishes namespace" "$TMP/relay-wt.log" && break; sleep 0.1; done
	URL="http://127.0.0.1:$HTP/index.html?url=https://127.0.0.1:$WTP/&hash=$(cat "$TMP/dev/cert.sha256")&ns=demo&track=video"
	echo "   watch it in a Chromium-based browser on this machine (for the next ${SECS} s):"
	echo "   $URL"
	/usr/bin/python3 "$ROOT/tests/integration/wt_browser.py" "$URL&seconds=$((SECS > 6 ? SECS - 4 : 2))" \
		"$TMP/chromium.png" $((SECS + 30)) >"$TMP/chromium.json" 2>"$TMP/chromium.log" &
	BPID=$!
	PIDS+=("$BPID")
	SPIDS+=("$BPID")
fi
for p in "${SPIDS[@]}"; do
	timeout $((SECS + 20)) tail --pid="$p" -f /dev/null || echo "demo: a subscriber did not finish" >&2
done

frames() {
	[ -s "$1" ] || { echo 0; return; }
	ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
		-of csv=p=0 "$1" 2>/dev/null | head -1 | tr -dc 0-9 || echo 0
}
j() { jq -r "$2" "$1" 2>/dev/null || echo "?"; }
ms() { awk -v u="$1" 'BEGIN { if (u == "?" || u == "") print "?"; else printf "%.1f", u / 1000 }'; }

echo
echo "== results after ${SECS} s (latency = publisher -> relay -> subscriber, ms)"
printf "%-8s %-6s %8s %10s %6s %6s %8s %8s %8s\n" host track objects bytes missing integ p50_ms p99_ms frames
for i in $(seq 1 "$NSUB"); do
	for t in video synth; do
		f=$TMP/sub$i-$t.json
		fr=-
		[ $t = video ] && fr=$(frames "$TMP/sub$i.h264")
		printf "%-8s %-6s %8s %10s %6s %6s %8s %8s %8s\n" "sub$i" "$t" "$(j "$f" .objects_received)" \
			"$(j "$f" .bytes)" "$(j "$f" .objects_missing)" "$(j "$f" .integrity_errors)" \
			"$(ms "$(j "$f" .latency_us.p50)")" "$(ms "$(j "$f" .latency_us.p99)")" "$fr"
	done
done
if [ "${BROWSER:-0}" = 1 ]; then
	f=$TMP/chromium.json
	printf "%-8s %-6s %8s %10s %6s %6s %8s %8s %8s\n" chromium video "$(j "$f" .objects)" - \
		"$(j "$f" .dropped)" "$(j "$f" .decode_errors)" "$(j "$f" .latency_p50_ms)" \
		"$(j "$f" .latency_p99_ms)" "$(j "$f" .frames_decoded)"
	[ "$(j "$f" .state)" = done ] || echo "   chromium: $(j "$f" .error)"
fi
echo
echo "relay during the run: $(grep '^moq-relayd: stats.*subscribers=[1-9]' "$TMP/relay.log" | tail -1 | sed 's/^moq-relayd: //')"
echo "(video: ~30 objects/s, one group per 1 s GOP; frames = what ffprobe decodes from the file the subscriber wrote)"
if [ "${BROWSER:-0}" = 1 ]; then
	echo "(chromium: headless, web/player over WebTransport to the loopback relay; frames = decoded by WebCodecs, missing = dropped)"
fi
