#!/usr/bin/env bash
# Publisher -> subscriber on loopback (moq-pub --listen, moq-sub), no relay:
# the endpoint and QUIC-stack baseline that relay figures are compared with.
#
#   B=build bench/pub_sub_loopback.sh [--seconds S] [--out FILE]
#
# For plaintext and TLS and object sizes 100 B, 1 KB, 10 KB, 100 KB the
# publisher sends as fast as the connection takes them (--rate 0) for S
# seconds (default 3); then one paced run (1 KB at 1000 objects/s) shows
# latency without self-made queueing. Reports objects/s, MB/s, latency
# percentiles (moq-sub, from the CLOCK_MONOTONIC stamp in each payload) and
# CPU time per object of each process (user + sys from /usr/bin/time).
# Prints a table and writes docs/results/pub-sub-loopback.md.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
SECS=3
OUT=docs/results/pub-sub-loopback.md
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) SECS=$2; shift ;;
	--out) OUT=$2; shift ;;
	*) echo "usage: $0 [--seconds S] [--out FILE]" >&2; exit 2 ;;
	esac
	shift
done
PUB=$B/bin/moq-pub
SUB=$B/bin/moq-sub
[ -x "$PUB" ] && [ -x "$SUB" ] || { echo "build first: make all (missing $PUB / $SUB)" >&2; exit 2; }
command -v certtool >/dev/null || { echo "certtool missing (gnutls-bin)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (package time)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/bench-pubsub.XXXXXX)
PUBPID=
cleanup() {
	[ -z "$PUBPID" ] || kill "$PUBPID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$TMP/tmpl" <<EOF
cn = "localhost"
ip_address = "127.0.0.1"
ca
cert_signing_key
signing_key
tls_www_server
expiration_days = 2
EOF
certtool --generate-privkey --key-type=ecdsa --outfile "$TMP/key.pem" 2>/dev/null
certtool --generate-self-signed --load-privkey "$TMP/key.pem" --template "$TMP/tmpl" \
	--outfile "$TMP/cert.pem" 2>/dev/null

jnum() { grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2; }
jlat() { grep -o "\"latency_us\":{[^}]*}" "$1" | head -1 | grep -o "\"$2\":[0-9.]*" | cut -d: -f2; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
run() { # mode size rate label
	local mode=$1 size=$2 rate=$3 label=$4 popt sopt port
	if [ "$mode" = plaintext ]; then
		popt=(--plaintext); sopt=(--plaintext)
	else
		popt=(--cert "$TMP/cert.pem" --key "$TMP/key.pem"); sopt=(--ca "$TMP/cert.pem")
	fi
	/usr/bin/time -f "%U %S" -o "$TMP/pub.time" "$PUB" --log-level info --listen 127.0.0.1:0 "${popt[@]}" \
		--namespace bench --track t --object-size "$size" --rate "$rate" \
		--objects-per-group 100 --duration "$SECS" --linger 10 2>"$TMP/pub.log" &
	PUBPID=$!
	for _ in $(seq 50); do
		grep -q "listening on" "$TMP/pub.log" 2>/dev/null && break
		sleep 0.1
	done
	port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\) .*/\1/p' "$TMP/pub.log" | head -1)
	[ -n "$port" ] || { cat "$TMP/pub.log" >&2; echo "moq-pub did not start" >&2; exit 1; }
	/usr/bin/time -f "%U %S" -o "$TMP/sub.time" timeout $((SECS + 30)) "$SUB" "${sopt[@]}" \
		--quiet --json --namespace bench --track t "127.0.0.1:$port" >"$TMP/sub.json" \
		2>"$TMP/sub.log" || true
	wait "$PUBPID" 2>/dev/null || true
	PUBPID=
	local objs ops mbs p50 p90 p99 max errs miss pcpu scpu cc
	objs=$(jnum "$TMP/sub.json" objects_received)
	[ -n "$objs" ] && [ "$objs" -gt 0 ] || { cat "$TMP/sub.log" "$TMP/pub.log" >&2; echo "no objects in $mode $size" >&2; exit 1; }
	ops=$(jnum "$TMP/sub.json" objects_per_s)
	mbs=$(jnum "$TMP/sub.json" mbytes_per_s)
	errs=$(jnum "$TMP/sub.json" integrity_errors)
	miss=$(jnum "$TMP/sub.json" objects_missing)
	p50=$(jlat "$TMP/sub.json" p50); p90=$(jlat "$TMP/sub.json" p90)
	p99=$(jlat "$TMP/sub.json" p99); max=$(jlat "$TMP/sub.json" max)
	pcpu=$(awk -v n="$objs" '{ printf "%.2f", ($1 + $2) * 1e6 / n }' "$TMP/pub.time")
	scpu=$(awk -v n="$objs" '{ printf "%.2f", ($1 + $2) * 1e6 / n }' "$TMP/sub.time")
	# publisher's QUIC state when the track ended (moq-pub --log-level info)
	cc=$(sed -n 's/.*srtt \([0-9.]*\) ms, min rtt [0-9.]* ms, cwnd \([0-9]*\),.*/\2 \1/p' "$TMP/pub.log" |
		awk '{ printf "%.0f KB / %.2f ms", $1 / 1000, $2 }' | head -1)
	local row
	row=$(printf "| %-9s | %-12s | %8s | %9.0f | %8.2f | %9.0f | %9.0f | %9.0f | %9.0f | %7s | %7s | %s/%s | %s |" \
		"$mode" "$label" "$objs" "$ops" "$mbs" "$p50" "$p90" "$p99" "$max" "$pcpu" "$scpu" "$miss" "$errs" "${cc:--}")
	ROWS+=("$row")
	echo "$row"
}

HDR="| mode      | load         |  objects | objects/s |     MB/s |   p50 us |   p90 us |   p99 us |   max us | pub us/obj | sub us/obj | missing/errors | cwnd / srtt |"
SEP="|-----------|--------------|---------:|----------:|---------:|---------:|---------:|---------:|---------:|--------:|--------:|------|------|"
echo "$HDR"
echo "$SEP"
for mode in plaintext tls; do
	for size in 100 1000 10000 100000; do
		case $size in
		100) l="100 B max" ;; 1000) l="1 KB max" ;; 10000) l="10 KB max" ;; 100000) l="100 KB max" ;;
		esac
		run $mode $size 0 "$l"
	done
	run $mode 1000 1000 "1 KB 1000/s"
done

mkdir -p "$(dirname "$OUT")"
{
	echo "# moq-pub -> moq-sub on loopback"
	echo
	echo "Generated by \`bench/pub_sub_loopback.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
	echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), build \`$B\`,"
	echo "kernel $(uname -r), CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) threads),"
	echo "load average at the start: $LOAD0 (other work on the host skews these figures)."
	echo
	echo "One publisher (\`moq-pub --listen\`) and one subscriber on 127.0.0.1, one track,"
	echo "groups of 100 objects in one subgroup, $SECS s of publishing per row."
	echo "\"max\" rows: \`--rate 0\` (as fast as the connection takes them; the publisher"
	echo "keeps up to 1 MiB (--send-buffer) per subscription unacknowledged, so latency"
	echo "there is mostly queueing in the publisher's send buffer); \"1000/s\" rows: paced."
	echo "objects/s and MB/s: objects received / time from session setup to the last"
	echo "object. Latency: subscriber receive time minus the CLOCK_MONOTONIC send stamp in"
	echo "the payload (MQP1, docs/tools.md), histogram with < 1% bucket width."
	echo "CPU: user + system time of the whole process (setup included) / objects."
	echo "cwnd / srtt: the publisher's congestion window and smoothed RTT when the track"
	echo "ended (loopback min RTT is well under 1 ms; cwnd / srtt bounds the send rate)."
	echo
	echo "$HDR"
	echo "$SEP"
	printf '%s\n' "${ROWS[@]}"
} >"$OUT"
echo "wrote $OUT"
