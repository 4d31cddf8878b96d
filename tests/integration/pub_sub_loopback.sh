#!/usr/bin/env bash
# moq-pub --listen and moq-sub on 127.0.0.1, in plaintext and in TLS (a
# self-signed certificate made with certtool into a temp dir):
#  - 10,000 synthetic objects over groups of 50 in 3 subgroups arrive
#    byte-exact (moq-sub --json: objects_missing 0, integrity_errors 0,
#    every group complete) and moq-sub exits 0;
#  - TLS: moq-sub --key-update-every 200 initiates >= 5 key updates and
#    every object still arrives intact;
#  - a datagram track delivers intact objects (loss allowed, none corrupt);
#  - moq-sub --count N over 3 subgroups per group stops only once the first
#    N objects are all there (not at N objects from whichever stream);
#  - an H.264 stream made by ffmpeg, published and written back by
#    moq-sub --output, decodes to the same number of frames;
#  - Subscription Filters: an AbsoluteRange gets exactly its objects, a late
#    Next Group Start subscriber gets whole groups only;
#  - handshake failures (certificate from another CA, wrong ALPN, plaintext
#    against TLS and back, missing auth token) end moq-sub with exit 3 in
#    under a second; misconfiguration exits 2 at once.
. "$(dirname "$0")/lib.sh"

PUB=$ROOT/$B/bin/moq-pub
SUB=$ROOT/$B/bin/moq-sub
[ -x "$PUB" ] && [ -x "$SUB" ] || die "build $B/bin/moq-pub and $B/bin/moq-sub first (make all)"
command -v certtool >/dev/null || die "certtool missing (gnutls-bin); run install.sh"
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || die "ffmpeg/ffprobe missing; run install.sh"
command -v jq >/dev/null && JQ=1 || JQ=0

TMP=$(mktemp -d /tmp/pubsub.$$.XXXXXX)
PIDS=()
kill_all() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
at_exit rm -rf "$TMP"
at_exit kill_all

# ---- certificates --------------------------------------------------------
mkcert() { # name
	local d=$TMP/$1
	mkdir -p "$d"
	cat >"$d/tmpl" <<-EOF
		cn = "localhost"
		dns_name = "localhost"
		ip_address = "127.0.0.1"
		ca
		cert_signing_key
		signing_key
		encryption_key
		tls_www_server
		expiration_days = 2
	EOF
	certtool --generate-privkey --key-type=ecdsa --outfile "$d/key.pem" 2>/dev/null
	certtool --generate-self-signed --load-privkey "$d/key.pem" --template "$d/tmpl" \
		--outfile "$d/cert.pem" 2>/dev/null
	[ -s "$d/cert.pem" ] || die "certtool could not make a certificate"
}
mkcert good
mkcert other

# ---- helpers ---------------------------------------------------------------
# json FILE KEY -> value of a top-level numeric key of moq-sub --json
json() {
	if [ $JQ = 1 ]; then
		jq -r ".$2" "$1"
	else
		grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2
	fi
}

# start_pub NAME MODEOPTS... : starts moq-pub --listen 127.0.0.1:0, sets PORT
start_pub() {
	local name=$1
	shift
	"$PUB" --listen 127.0.0.1:0 "$@" 2>"$TMP/$name.pub.log" &
	PIDS+=($!)
	LAST_PUB=$!
	wait_for 5 grep -q "listening on" "$TMP/$name.pub.log" ||
		{ cat "$TMP/$name.pub.log"; die "$name: moq-pub did not start listening"; }
	PORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\) .*/\1/p' "$TMP/$name.pub.log" | head -1)
	[ -n "$PORT" ] || die "$name: no port in moq-pub's log"
}

stop_pub() {
	kill "$LAST_PUB" 2>/dev/null || true
	wait "$LAST_PUB" 2>/dev/null || true
}

# run_sub NAME TIMEOUT ARGS... : runs moq-sub --json, sets RC and MS (elapsed)
run_sub() {
	local name=$1 to=$2 t0
	shift 2
	t0=$(date +%s%N)
	set +e
	timeout --kill-after=2 "$to" "$SUB" --quiet --json "$@" >"$TMP/$name.json" 2>"$TMP/$name.sub.log"
	RC=$?
	set -e
	MS=$((($(date +%s%N) - t0) / 1000000))
}

show() { # name
	echo "--- $1: moq-sub (exit $RC, $MS ms)"; cat "$TMP/$1.sub.log" "$TMP/$1.json" 2>/dev/null | tail -15
	echo "--- $1: moq-pub"; tail -15 "$TMP/$1.pub.log" 2>/dev/null || true
}

expect_eq() { # name what got want
	[ "$3" = "$4" ] || { show "$1"; die "$1: $2 is '$3', expected '$4'"; }
}

# ---- source video ------------------------------------------------------------
ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=30 -t 4 \
	-c:v libx264 -g 30 -bf 0 -f h264 "$TMP/src.h264" || die "ffmpeg could not make the test video"
frames() {
	ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
		-of default=nokey=1:noprint_wrappers=1 "$1"
}
SRC_FRAMES=$(frames "$TMP/src.h264")
[ "$SRC_FRAMES" -gt 0 ] || die "ffprobe cannot count the source frames"

# ---- misconfiguration: exit 2 at once ------------------------------------------
set +e
"$SUB" 127.0.0.1:1 >/dev/null 2>"$TMP/m1.log"; r1=$?
"$PUB" --listen 127.0.0.1:0 --plaintext --object-size 10 2>"$TMP/m2.log"; r2=$?
"$PUB" --listen 127.0.0.1:0 2>"$TMP/m3.log"; r3=$?
"$SUB" --plaintext --count abc 127.0.0.1:1 2>"$TMP/m4.log"; r4=$?
"$PUB" --help >/dev/null; r5=$?
"$SUB" --help >/dev/null; r6=$?
set -e
[ $r1 = 2 ] && grep -q -- "--ca" "$TMP/m1.log" || die "moq-sub without --ca/--insecure/--plaintext: exit $r1, $(cat "$TMP/m1.log")"
[ $r2 = 2 ] && grep -q -- "--object-size" "$TMP/m2.log" || die "moq-pub --object-size 10: exit $r2"
[ $r3 = 2 ] && grep -q -- "--cert" "$TMP/m3.log" || die "moq-pub --listen without cert: exit $r3"
[ $r4 = 2 ] && grep -q -- "--count" "$TMP/m4.log" || die "moq-sub --count abc: exit $r4"
[ $r5 = 0 ] && [ $r6 = 0 ] || die "--help does not exit 0"
log "misconfiguration exits 2 with a message naming the option"

for mode in plaintext tls; do
	if [ $mode = plaintext ]; then
		POPT=(--plaintext)
		SOPT=(--plaintext)
	else
		POPT=(--cert "$TMP/good/cert.pem" --key "$TMP/good/key.pem")
		SOPT=(--ca "$TMP/good/cert.pem")
	fi

	# -- 10,000 synthetic objects, byte-exact ----------------------------------
	n=$mode-synthetic
	start_pub $n "${POPT[@]}" --namespace test/loop --track t1 --count 10000 --rate 0 \
		--objects-per-group 50 --subgroups-per-group 3 --object-size 1200 --linger 5
	run_sub $n 30 "${SOPT[@]}" --namespace test/loop --track t1 --count 10000 127.0.0.1:$PORT
	expect_eq $n "exit status" $RC 0
	expect_eq $n objects_received "$(json "$TMP/$n.json" objects_received)" 10000
	expect_eq $n objects_missing "$(json "$TMP/$n.json" objects_missing)" 0
	expect_eq $n integrity_errors "$(json "$TMP/$n.json" integrity_errors)" 0
	expect_eq $n groups_complete "$(json "$TMP/$n.json" groups_complete)" 200
	expect_eq $n bytes "$(json "$TMP/$n.json" bytes)" 12000000
	wait_for 10 bash -c "! kill -0 $LAST_PUB" || { show $n; die "$n: moq-pub did not exit after the track ended"; }
	wait "$LAST_PUB" || die "$n: moq-pub exited with $?"
	log "$n: 10000 objects in $MS ms, p99 latency $(jq -r .latency_us.p99 "$TMP/$n.json" 2>/dev/null) us"

	# -- TLS: key updates every 200 packets, byte-exact -------------------------
	if [ $mode = tls ]; then
		n=tls-key-update
		start_pub $n "${POPT[@]}" --namespace test/loop --track t1 --count 3000 --rate 2000 \
			--objects-per-group 50 --object-size 1200 --linger 5
		run_sub $n 30 "${SOPT[@]}" --key-update-every 200 --namespace test/loop --track t1 \
			--count 3000 127.0.0.1:$PORT
		expect_eq $n "exit status" $RC 0
		expect_eq $n objects_missing "$(json "$TMP/$n.json" objects_missing)" 0
		expect_eq $n integrity_errors "$(json "$TMP/$n.json" integrity_errors)" 0
		ku=$(json "$TMP/$n.json" key_updates)
		[ "${ku:-0}" -ge 5 ] || { show $n; die "$n: only ${ku:-0} key updates (want >= 5)"; }
		wait "$LAST_PUB" || die "$n: moq-pub exited with $?"
		log "$n: 3000 objects byte-exact across $ku key updates initiated by moq-sub"
	fi

	# -- datagram track ------------------------------------------------------------
	n=$mode-datagram
	start_pub $n "${POPT[@]}" --namespace test/loop --datagram-track d1 --count 2000 --rate 4000 \
		--objects-per-group 20 --object-size 600 --linger 2
	run_sub $n 20 "${SOPT[@]}" --namespace test/loop --track d1 127.0.0.1:$PORT
	expect_eq $n "exit status" $RC 0
	expect_eq $n integrity_errors "$(json "$TMP/$n.json" integrity_errors)" 0
	got=$(json "$TMP/$n.json" objects_received)
	[ "$got" -ge 1980 ] || { show $n; die "$n: only $got of 2000 datagram objects arrived"; }
	stop_pub
	log "$n: $got of 2000 datagram objects, none corrupt"

	# -- H.264 round trip ---------------------------------------------------------------
	n=$mode-h264
	start_pub $n "${POPT[@]}" --namespace test/video --h264 "$TMP/src.h264" --fps 240 --linger 5
	run_sub $n 30 "${SOPT[@]}" --namespace test/video --track video --output "$TMP/$n.h264" \
		127.0.0.1:$PORT
	expect_eq $n "exit status" $RC 0
	expect_eq $n integrity_errors "$(json "$TMP/$n.json" integrity_errors)" 0
	expect_eq $n objects_received "$(json "$TMP/$n.json" objects_received)" "$SRC_FRAMES"
	out_frames=$(frames "$TMP/$n.h264")
	expect_eq $n "decoded frames of --output" "$out_frames" "$SRC_FRAMES"
	cmp -s "$TMP/src.h264" "$TMP/$n.h264" || { show $n; die "$n: --output differs from the source file"; }
	stop_pub
	log "$n: $out_frames frames published and written back byte-identical"
done

# ---- --count N with several subgroups per group ------------------------------------
# The subgroups of a group travel on parallel streams and the higher-priority one
# runs ahead, so N objects can arrive while some of the first N are still under
# way: moq-sub must stop only once the first N are all there (it used to stop at
# N objects received and report the rest of the first N missing, exit 1).
n=count-subgroups
start_pub $n --plaintext --namespace test/loop --track t1 --count 3000 --rate 0 \
	--objects-per-group 50 --subgroups-per-group 3 --object-size 1200 --linger 1
run_sub $n 15 --plaintext --namespace test/loop --track t1 --count 1000 127.0.0.1:$PORT
expect_eq $n "exit status" $RC 0
expect_eq $n objects_missing "$(json "$TMP/$n.json" objects_missing)" 0
expect_eq $n integrity_errors "$(json "$TMP/$n.json" integrity_errors)" 0
got=$(json "$TMP/$n.json" objects_received)
[ "$got" -ge 1000 ] || { show $n; die "$n: stopped after $got objects, before the first 1000"; }
stop_pub
log "$n: --count 1000 over 3 subgroups stopped with the first 1000 complete ($got received, $MS ms)"

# ---- subscription filters (plaintext; the filter logic is mode-independent) --------
n=filter-range
start_pub $n --plaintext --count 200 --rate 2000 --objects-per-group 10 --linger 2
run_sub $n 10 --plaintext --filter range:2:3:4 127.0.0.1:$PORT
expect_eq $n "exit status" $RC 0
expect_eq $n objects_received "$(json "$TMP/$n.json" objects_received)" 27 # 2/3..2/9, 3/*, 4/*
expect_eq $n objects_missing "$(json "$TMP/$n.json" objects_missing)" 0
stop_pub
log "$n: AbsoluteRange {2,3}..group 4 delivered exactly 27 objects, then PUBLISH_DONE"

n=filter-next-group
start_pub $n --plaintext --count 1500 --rate 1000 --objects-per-group 30 --linger 2
"$SUB" --plaintext --quiet --json 127.0.0.1:$PORT >"$TMP/$n-first.json" 2>/dev/null &
PIDS+=($!)
sleep 0.5
run_sub $n 10 --plaintext --filter next-group 127.0.0.1:$PORT
expect_eq $n "exit status" $RC 0
expect_eq $n objects_missing "$(json "$TMP/$n.json" objects_missing)" 0
got=$(json "$TMP/$n.json" objects_received)
groups=$(json "$TMP/$n.json" groups_complete)
[ "$got" -gt 0 ] && [ "$got" -lt 1500 ] && [ $((groups * 30)) = "$got" ] ||
	{ show $n; die "$n: a late Next Group Start subscriber got $got objects in $groups groups"; }
stop_pub
log "$n: late joiner got $got objects = $groups whole groups, nothing missing"

# ---- handshake failures: exit 3 within a second ------------------------------------
start_pub hs-tls --cert "$TMP/good/cert.pem" --key "$TMP/good/key.pem" --linger 0
TLS_PORT=$PORT
TLS_PUB=$LAST_PUB
start_pub hs-plain --plaintext --linger 0
PLAIN_PORT=$PORT

# within a second (process start included); ASan/UBSan builds start slower
LIMIT_MS=1000
[[ $B == *san* ]] && LIMIT_MS=2000
check_fail() { # name pattern
	local name=$1 pat=$2
	[ $RC = 3 ] || { show "$name"; die "$name: exit $RC, expected 3 (connection failed)"; }
	[ $MS -lt $LIMIT_MS ] || { show "$name"; die "$name: the failure took $MS ms (limit $LIMIT_MS)"; }
	grep -qiE "$pat" "$TMP/$name.sub.log" || { show "$name"; die "$name: the message does not say '$pat'"; }
	log "$name: exit 3 after $MS ms: $(grep -m1 -i failed "$TMP/$name.sub.log")"
}

run_sub hs-badcert 5 --ca "$TMP/other/cert.pem" --connect-timeout 3 127.0.0.1:$TLS_PORT
check_fail hs-badcert "certif|verif|TLS"
run_sub hs-alpn 5 --ca "$TMP/good/cert.pem" --alpn moqt-99 --connect-timeout 3 127.0.0.1:$TLS_PORT
check_fail hs-alpn "ALPN|alpn|application protocol"
run_sub hs-plain-vs-tls 5 --plaintext --connect-timeout 3 127.0.0.1:$TLS_PORT
check_fail hs-plain-vs-tls "plaintext|TLS"
run_sub hs-tls-vs-plain 5 --ca "$TMP/good/cert.pem" --connect-timeout 3 127.0.0.1:$PLAIN_PORT
check_fail hs-tls-vs-plain "plaintext|TLS"
kill "$TLS_PUB" 2>/dev/null || true

# ---- authorization token ----------------------------------------------------------------
start_pub auth --plaintext --auth-token s3cret --count 100 --rate 0 --linger 2
run_sub auth-missing 5 --plaintext --connect-timeout 3 127.0.0.1:$PORT
[ $RC = 3 ] || { show auth-missing; die "auth-missing: exit $RC, expected 3"; }
run_sub auth 10 --plaintext --auth-token s3cret --count 100 127.0.0.1:$PORT
expect_eq auth "exit status" $RC 0
log "auth token: refused without it (exit 3), accepted with it"

log "pub_sub_loopback: all checks passed"
