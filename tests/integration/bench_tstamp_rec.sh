#!/usr/bin/env bash
# The TLS residence bench's recorder and decoder, end to end without a
# network: tc-progs/testing/tstamp_rec.bpf.o is run (BPF_PROG_TEST_RUN via
# bpftool) on three hand-made Ethernet/IPv4/UDP frames and bench/tstamp.c
# `rec` drains its ring buffer; then bench/residence_tls.py decrypts them
# with a key log:
#  - a short-header QUIC packet sealed with a known 1-RTT secret, whole
#    (AES-GCM tag checked): its MQP1 sequence number and send time come out
#    at the right point, address, port, with a timestamp taken between two
#    reads of CLOCK_MONOTONIC around the run;
#  - a longer one on the relay's egress (1,000-byte object: only its first
#    320 bytes recorded, decrypted without the tag) likewise;
#  - one from the publisher (client secret) carrying two objects, the
#    second past byte 320: recorded whole on the publisher-side ingress,
#    both objects stamped;
#  - a 20-byte UDP payload is counted small, not recorded;
#  - with another secret in the key log nothing decrypts (no_key);
# after bench/residence_tls.py --self-test (RFC 9001/9000 vectors, packets
# sealed with known keys).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
die() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[$(date +%T)] $*"; }
[ "$(id -u)" = 0 ] || die "needs root (BPF)"
OBJ=$B/tc-progs/testing/tstamp_rec.bpf.o
[ -e "$OBJ" ] || die "$OBJ missing (make)"
python3 -c 'import cryptography' 2>/dev/null || die "python3 module cryptography missing (install.sh)"
. "$ROOT/netns/bpffs.sh"
moq_ensure_bpffs /sys/fs/bpf || die "no bpffs"

TMP=$(mktemp -d /tmp/moq-tsr.XXXXXX)
PINDIR=/sys/fs/bpf/moq-test-tsr-$$
REC=
cleanup() {
	[ -z "$REC" ] || kill "$REC" 2>/dev/null || true
	rm -rf "$PINDIR" "$TMP"
}
trap cleanup EXIT

# the decoder's known-answer and sealed-packet self-test first
python3 "$ROOT/bench/residence_tls.py" --self-test

cc -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -I"$ROOT/tc-progs" \
	"$ROOT/bench/tstamp.c" -lbpf -o "$TMP/tstamp"
"$TMP/tstamp" load "$OBJ" "$PINDIR"

# frames and key logs: the right secret and a wrong one
PYTHONPATH=$ROOT/bench python3 - "$TMP" <<'PY'
import struct, sys
import residence_tls as r
tmp = sys.argv[1]
secret, client, wrong = bytes(range(32)), bytes(range(2, 34)), bytes(range(1, 33))
with open(f"{tmp}/good.keys", "w") as f:
    f.write(f"CLIENT_TRAFFIC_SECRET_0 {'00' * 32} {client.hex()}\n")
    f.write(f"SERVER_TRAFFIC_SECRET_0 {'00' * 32} {secret.hex()}\n")
with open(f"{tmp}/wrong.keys", "w") as f:
    f.write(f"CLIENT_TRAFFIC_SECRET_0 {'00' * 32} {wrong.hex()}\n")
    f.write(f"SERVER_TRAFFIC_SECRET_0 {'00' * 32} {wrong.hex()}\n")
k, kc = r.Keys(secret), r.Keys(client)
dcid = bytes.fromhex("a1a2a3a4a5a6a7a8")

def frame(payload, dport=4443):
    udp = struct.pack(">HHHH", 5555, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     bytes([10, 9, 9, 9]), bytes([10, 1, 2, 3])) + udp
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip

big = r.test_object(99, 4242)[:-176] + bytes(1000)
two = r.test_object(11, 1111)[:-176] + bytes(400) + r.test_object(12, 1212)[:-176] + bytes(400)
for name, payload in (("whole", r.seal(k, dcid, 3, 2, r.test_object(0x0102030405060708, 777))),
                      ("prefix", r.seal(k, dcid, 4, 2, big)),
                      ("two", r.seal(kc, bytes.fromhex("b1b2b3b4b5b6b7b8"), 9, 1, two)),
                      ("small", bytes(20))):
    with open(f"{tmp}/{name}.bin", "wb") as f:
        f.write(frame(payload))
PY

"$TMP/tstamp" rec "$PINDIR" "$TMP/r.rec" &
REC=$!
t0=$("$TMP/tstamp" now)
bpftool prog run pinned "$PINDIR/tsr_arrive" data_in "$TMP/whole.bin" repeat 1 >/dev/null
bpftool prog run pinned "$PINDIR/tsr_egress" data_in "$TMP/prefix.bin" repeat 1 >/dev/null
bpftool prog run pinned "$PINDIR/tsr_ingress" data_in "$TMP/two.bin" repeat 1 >/dev/null
bpftool prog run pinned "$PINDIR/tsr_ingress" data_in "$TMP/small.bin" repeat 1 >/dev/null
t1=$("$TMP/tstamp" now)
sleep 0.2
kill -TERM "$REC"
wait "$REC" || die "tstamp rec failed"
REC=
stats=$("$TMP/tstamp" recstats "$PINDIR")
log "recorder: $stats"
[ "$stats" = "seen=4 udp=4 small=1 recorded=3 lost=0" ] || die "recorder counters: $stats"
# header + payload: the whole 247-byte packet, 320 of the long one, the
# whole 914-byte publisher packet
[ "$(stat -c %s "$TMP/r.rec")" = $((3 * 32 + 247 + 320 + 914)) ] ||
	die "rec file: $(stat -c %s "$TMP/r.rec") bytes, not the three records"

python3 "$ROOT/bench/residence_tls.py" --rec "$TMP/r.rec" --keylog "$TMP/good.keys" --from "$t0" --to "$t1" \
	--out "$TMP/out" --arrive-out "$TMP/arrive" --sent-out "$TMP/sent" 2>"$TMP/dec"
log "decoder: $(cat "$TMP/dec")"
grep -q 'opened_tag=2 opened_prefix=1 ' "$TMP/dec" || die "not two whole and one prefix decryption"
read -r pt key port seq ns <"$TMP/arrive"
[ "$pt $key $port $seq" = "0 10.1.2.3 4443 72623859790382856" ] || die "arrival record: $(cat "$TMP/arrive")"
[ "$ns" -ge "$t0" ] && [ "$ns" -le "$t1" ] || die "arrival time $ns outside [$t0, $t1]"
[ "$(cut -d' ' -f1-4 "$TMP/out" | sort | tr '\n' ,)" = "0 10.1.2.3 4443 99,1 10.1.2.3 4443 11,1 10.1.2.3 4443 12," ] ||
	die "egress and ingress records: $(cat "$TMP/out")"
sort -n "$TMP/sent" | tr '\n' ' ' | grep -qx '11 1111 12 1212 99 4242 72623859790382856 777 ' ||
	die "send times: $(cat "$TMP/sent")"
log "sealed packets decrypted: sequence numbers, send times, points and timestamps as sent"

python3 "$ROOT/bench/residence_tls.py" --rec "$TMP/r.rec" --keylog "$TMP/wrong.keys" \
	--out "$TMP/out2" --arrive-out "$TMP/arrive2" 2>"$TMP/dec2"
grep -q 'no_key=3 ' "$TMP/dec2" || die "a wrong key log: $(cat "$TMP/dec2")"
[ ! -s "$TMP/out2" ] && [ ! -s "$TMP/arrive2" ] || die "a wrong key log decrypted something"
log "wrong key log: nothing decrypted"
echo "PASS"
