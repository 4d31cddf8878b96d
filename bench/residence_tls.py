#!/usr/bin/env python3
"""bench/residence_tls.py - turn tstamp_rec.bpf.o's records (bench/tstamp.c
`rec` files: struct tsr_rec, tc-progs/testing/tstamp_rec.h) into the
"point key dport seq ns" lines of `tstamp dump`, so bench/residence_report.py
reports a TLS run like a plaintext one (bench/residence_tls.sh).

A record holds a kernel timestamp and the first TSR_CAP bytes of a UDP
payload (a publisher's packet: all of it, TSR_CAP_MAX). The MQP1 sequence
number (payload header bytes 16..23) of every object in those bytes is
found:
  - in clear, when the packet carries it so (plaintext runs; the fast
    path's clones before tc/subscriber_egress seals them);
  - else, for a QUIC v1 short-header packet (8-byte DCID, moq/quic/quic.h),
    by decrypting it with 1-RTT keys derived from TLS key logs (SSLKEYLOGFILE
    of moq-pub and moq-sub: CLIENT_TRAFFIC_SECRET_0 protects what the
    publisher sends, SERVER_TRAFFIC_SECRET_0 what the relay sends to a
    subscriber): header protection removed (AES-ECB of the sample), the
    packet number decoded against the largest one seen on that connection
    and point (RFC 9000 A.3), then
      * the whole packet captured: AES-128-GCM open, tag checked;
      * only a prefix captured (the tag is at the end, not in it): the CTR
        part of GCM (counter blocks from nonce || 2) decrypts the prefix,
        unauthenticated; accepted only with an MQP1 header in the result.
    Keys are matched to connections by trial, then cached per DCID.
Key updates (RFC 9001 6: "quic ku") are followed per DCID: a packet whose
key phase bit differs from its connection's last one is tried with the
next generation (and the previous); counted as key_updated.

    residence_tls.py --rec FILE --keylog FILE... --from NS --to NS \\
        --out DUMP [--arrive-out DUMP] [--sent-out FILE] [--depart-out FILE]
    residence_tls.py --self-test

--out gets points 0 (relay egress) and 1 (relay ingress); --arrive-out gets
point 1 and point 2 (the subscriber's interface) written as point 0, so the
same report measures relay ingress -> subscriber arrival. Only records with
FROM <= ns <= TO are written; a key's first sighting wins (like BPF_NOEXIST).
--sent-out gets "seq ns" per object: the publisher's CLOCK_MONOTONIC send
time (MQP1 header bytes 24..31, one clock on this host); --depart-out the
time point 3 (the publisher's own interface) saw it. Counters go to stderr.
"""
import argparse
import hashlib
import hmac
import socket
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

REC = struct.Struct("<QIIIHHII")  # struct tsr_rec without data[]
CID_LEN = 8  # MOQ_QUIC_CID_LEN
CLONE_MARK, CLONE_MASK = 0x4D510000, 0xFFFF0000
PT_EGRESS, PT_INGRESS, PT_ARRIVE, PT_DEPART = 0, 1, 2, 3


def hkdf_expand_label(secret, label, length):
    """TLS 1.3 HKDF-Expand-Label with SHA-256 and an empty context."""
    full = b"tls13 " + label
    info = struct.pack(">HB", length, len(full)) + full + b"\x00"
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(secret, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


class Keys:
    """QUIC v1 AES-128-GCM packet protection keys of one secret, and of its
    key updates (generation g: "quic ku" applied g times; the header
    protection key stays the first one's, RFC 9001 6)."""

    def __init__(self, secret, name=""):
        self.name = name
        self.hp = hkdf_expand_label(secret, b"quic hp", 16)
        self.hp_ecb = Cipher(algorithms.AES(self.hp), modes.ECB())
        self.secrets = [secret]
        self.gens = {}
        self.key, self.iv, self.aead = self.gen(0)

    def gen(self, g):
        """(key, iv, AESGCM) of generation g."""
        if g not in self.gens:
            while len(self.secrets) <= g:
                self.secrets.append(hkdf_expand_label(self.secrets[-1], b"quic ku", 32))
            key = hkdf_expand_label(self.secrets[g], b"quic key", 16)
            self.gens[g] = (key, hkdf_expand_label(self.secrets[g], b"quic iv", 12), AESGCM(key))
        return self.gens[g]

    def mask(self, sample):
        e = self.hp_ecb.encryptor()
        return e.update(sample) + e.finalize()

    def nonce(self, pn, g=0):
        return bytes(a ^ b for a, b in zip(self.gen(g)[1], pn.to_bytes(12, "big")))

    def ctr(self, pn, data, g=0):
        """GCM's encryption of data without the tag: CTR from nonce || 2."""
        c = Cipher(algorithms.AES(self.gen(g)[0]), modes.CTR(self.nonce(pn, g) + b"\x00\x00\x00\x02")).encryptor()
        return c.update(data) + c.finalize()


def decode_pn(largest, truncated, pnlen):
    """RFC 9000 appendix A.3."""
    expected = largest + 1
    win = 1 << (8 * pnlen)
    hwin, mask = win // 2, win - 1
    cand = (expected & ~mask) | truncated
    if cand <= expected - hwin and cand < (1 << 62) - win:
        return cand + win
    if cand > expected + hwin and cand >= win:
        return cand - win
    return cand


def find_mqp1(buf):
    """Offset of an MQP1 payload header with its 24 bytes in buf, or -1."""
    i = buf.find(b"MQP1")
    while i >= 0:
        if i + 24 <= len(buf) and buf[i + 4] == 1 and buf[i + 5] <= 1:
            return i
        i = buf.find(b"MQP1", i + 1)
    return -1


def objects(buf):
    """(sequence number, send time or None) of every MQP1 header in buf."""
    out, i = [], find_mqp1(buf)
    while i >= 0:
        out.append(seq_at(buf, i))
        j = find_mqp1(buf[i + 24:])
        i = -1 if j < 0 else i + 24 + j
    return out


def seq_at(buf, pos):
    """(sequence number, send time or None) of the MQP1 header at pos."""
    sent = int.from_bytes(buf[pos + 24:pos + 32], "big") if pos + 32 <= len(buf) else None
    return int.from_bytes(buf[pos + 16:pos + 24], "big"), sent


def read_keylogs(paths):
    """{"client": [Keys], "server": [Keys]} from *_TRAFFIC_SECRET_0 lines."""
    keys = {"client": [], "server": []}
    seen = set()
    for p in paths:
        with open(p) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 3 or parts[0] not in ("CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"):
                    continue
                if (parts[0], parts[2]) in seen:
                    continue
                seen.add((parts[0], parts[2]))
                side = "client" if parts[0].startswith("CLIENT") else "server"
                keys[side].append(Keys(bytes.fromhex(parts[2]), f"{p}:{parts[1][:8]}"))
    return keys


class Decoder:
    """Sequence numbers of records; keys found by trial, cached per DCID."""

    def __init__(self, keys):
        self.keys = keys
        self.by_dcid = {}  # dcid -> Keys
        self.dead = set()  # dcids whose full packet no key opened
        self.largest = {}  # (point, dcid) -> largest packet number opened
        self.gen = {}  # dcid -> key generation of the last packet opened
        self.n = dict.fromkeys(("records", "clear", "short", "long", "key_updated", "opened_tag",
                                "opened_prefix", "no_key", "no_object", "clone_no_object", "not_quic"), 0)

    def seq(self, point, data, udplen, clone=False):
        """[(MQP1 sequence number, send time or None)] of every object in a
        record's payload bytes (none: []). clone: a fast-path clone before
        its seal (plaintext form: nothing to decrypt)."""
        self.n["records"] += 1
        if find_mqp1(data) >= 0:
            self.n["clear"] += 1
            return objects(data)
        if clone:
            self.n["clone_no_object"] += 1
            return []
        if len(data) < 1 + CID_LEN + 4 + 16 or data[0] & 0xC0 != 0x40:
            self.n["long" if data and data[0] & 0x80 else "not_quic"] += 1
            return []
        self.n["short"] += 1
        dcid = bytes(data[1:1 + CID_LEN])
        full = len(data) == udplen
        if dcid in self.by_dcid:
            cands = [self.by_dcid[dcid]]
        elif full and dcid in self.dead:
            cands = []
        else:
            cands = self.keys["client" if point in (PT_INGRESS, PT_DEPART) else "server"]
        for k in cands:
            r = self.open(k, point, dcid, data, full)
            if r is None:
                continue
            opened, pn, plain, g = r
            self.by_dcid[dcid] = k
            self.gen[dcid] = g
            if g:
                self.n["key_updated"] += 1
            self.largest[(point, dcid)] = max(pn, self.largest.get((point, dcid), -1))
            found = objects(plain)
            if not found:
                self.n["no_object"] += 1
                return []
            self.n[opened] += 1
            return found
        if dcid in self.by_dcid and not full:
            self.n["no_object"] += 1  # the connection's key: no MQP1 header in the prefix
        else:
            self.n["no_key"] += 1
        if full and dcid not in self.by_dcid:
            self.dead.add(dcid)
        return []

    def open(self, k, point, dcid, data, full):
        """(how, pn, plaintext, generation) with k, or None (wrong key, or
        no object in a prefix)."""
        pn_off = 1 + CID_LEN
        m = k.mask(bytes(data[pn_off + 4:pn_off + 20]))
        first = data[0] ^ (m[0] & 0x1F)
        pnlen = (first & 3) + 1
        phase = first >> 2 & 1
        cur = self.gen.get(dcid, 0)
        gens = [g for g in (cur, cur + 1, cur - 1, cur + 2) if g >= 0 and g % 2 == phase]
        tpn = int.from_bytes(bytes(a ^ b for a, b in zip(data[pn_off:pn_off + pnlen], m[1:1 + pnlen])), "big")
        hdr = bytes([first]) + bytes(data[1:pn_off]) + tpn.to_bytes(pnlen, "big")
        body = bytes(data[pn_off + pnlen:])
        base = decode_pn(self.largest.get((point, dcid), -1), tpn, pnlen)
        win = 1 << (8 * pnlen)
        for g in gens:
            for pn in (base, base + win, base - win):
                if pn < 0:
                    continue
                if full:
                    try:
                        return "opened_tag", pn, k.gen(g)[2].decrypt(k.nonce(pn, g), body, hdr), g
                    except InvalidTag:
                        continue
                plain = k.ctr(pn, body, g)
                if find_mqp1(plain) >= 0:
                    return "opened_prefix", pn, plain, g
        return None


def read_recs(path):
    with open(path, "rb") as f:
        blob = f.read()
    off = 0
    while off + REC.size <= len(blob):
        ns, point, daddr, mark, dport, caplen, udplen, _ = REC.unpack_from(blob, off)
        data = blob[off + REC.size:off + REC.size + caplen]
        off += REC.size + caplen
        yield ns, point, daddr, mark, dport, udplen, data


def stamp(out, arrive, ns, point, daddr, mark, dport, clone, seq, depart=None):
    """One object seen at one point: its key as `tstamp dump` writes it,
    into the dump(s) of that point; the first sighting wins. The
    publisher's own interface (depart): seq -> ns."""
    if point == PT_DEPART:
        if depart is not None and (seq not in depart or ns < depart[seq]):
            depart[seq] = ns
        return
    if clone:
        key = (0, f"slot{mark & ~CLONE_MASK & 0xFFFFFFFF}", 0, seq)
    else:
        key = (0 if point == PT_ARRIVE else point, socket.inet_ntoa(struct.pack("<I", daddr)),
               socket.ntohs(dport), seq)
    for d in [arrive] if point == PT_ARRIVE else [out] + ([arrive] if point == PT_INGRESS else []):
        if key not in d or ns < d[key]:
            d[key] = ns


def convert(a):
    dec = Decoder(read_keylogs(a.keylog))
    out, arrive, sent, depart = {}, {}, {}, {}
    for ns, point, daddr, mark, dport, udplen, data in read_recs(a.rec):
        clone = point == PT_EGRESS and mark & CLONE_MASK == CLONE_MARK
        found = dec.seq(point, data, udplen, clone)
        if not a.t_from <= ns <= a.t_to:
            continue
        for seq, t_sent in found:
            if t_sent is not None:
                sent.setdefault(seq, t_sent)
            stamp(out, arrive, ns, point, daddr, mark, dport, clone, seq, depart)
    for path, d in ((a.out, out), (a.arrive_out, arrive)):
        if not path:
            continue
        with open(path, "w") as f:
            for (pt, k, port, seq), ns in d.items():
                f.write(f"{pt} {k} {port} {seq} {ns}\n")
    for path, d in ((a.sent_out, sent), (a.depart_out, depart)):
        if path:
            with open(path, "w") as f:
                for seq, ns in d.items():
                    f.write(f"{seq} {ns}\n")
    print("residence_tls: " + " ".join(f"{k}={v}" for k, v in dec.n.items()) +
          f" keys={len(dec.keys['client'])}c/{len(dec.keys['server'])}s dcids={len(dec.by_dcid)}", file=sys.stderr)


def seal(keys, dcid, pn, pnlen, payload, g=0):
    """A QUIC v1 short-header packet sealed with AES-128-GCM the plain way
    (AESGCM, not the decoder's CTR path): the self-test's and
    tests/integration/bench_tstamp_rec.sh's known-key packets."""
    first = 0x40 | (g & 1) << 2 | (pnlen - 1)
    hdr = bytes([first]) + dcid + (pn & ((1 << (8 * pnlen)) - 1)).to_bytes(pnlen, "big")
    ct = AESGCM(keys.gen(g)[0]).encrypt(keys.nonce(pn, g), payload, hdr)
    pkt = bytearray(hdr + ct)
    e = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor()
    m = e.update(bytes(pkt[1 + CID_LEN + 4:1 + CID_LEN + 20])) + e.finalize()
    pkt[0] ^= m[0] & 0x1F
    for i in range(pnlen):
        pkt[1 + CID_LEN + i] ^= m[1 + i]
    return bytes(pkt)


def test_object(seq, sent=0x99):
    """ACK frame, STREAM frame header, MoQT bytes, an MQP1 header (sequence
    number seq, send time sent) and a body."""
    mqp = b"MQP1" + bytes([1, 0, 0, 0]) + b"\x00" * 8 + seq.to_bytes(8, "big") + sent.to_bytes(8, "big")
    return b"\x02\x05\x00\x00\x05" + b"\x0e\x02\x40\xd0" + b"\x04\x01\x00" + mqp + bytes(range(176))


def self_test():
    """Known answers (RFC 9001 A.1, RFC 9000 A.3), then packets sealed here
    by AES-GCM with a known key, found among decoys by the decoder."""
    k = Keys(bytes.fromhex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"))
    assert k.key.hex() == "1f369613dd76d5467730efcbe3b1a22d", k.key.hex()
    assert k.iv.hex() == "fa044b2f42a3fd3b46fb255c", k.iv.hex()
    assert k.hp.hex() == "9f50449e04a0e810283a1e9933adedd2", k.hp.hex()
    # RFC 9001 A.5's secret: its "quic ku" output
    ku = hkdf_expand_label(bytes.fromhex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b"), b"quic ku", 32)
    assert ku.hex() == "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9", ku.hex()
    assert decode_pn(0xA82F30EA, 0x9B32, 2) == 0xA82F9B32
    assert decode_pn(0x1F0, 0x05, 1) == 0x205 and decode_pn(0x100, 0xFF, 1) == 0xFF
    secrets = [hashlib.sha256(bytes([i])).digest() for i in range(4)]
    right = Keys(secrets[2])

    obj = test_object

    dcid = bytes.fromhex("0102030405060708")
    keys = {"client": [], "server": [Keys(s) for s in secrets]}
    d = Decoder(keys)
    p1 = seal(right, dcid, 7, 1, obj(0x1122334455667788))
    assert find_mqp1(p1) < 0, "sealed packet shows its object in clear"
    assert d.seq(PT_EGRESS, p1, len(p1)) == [(0x1122334455667788, 0x99)], "whole packet"
    assert d.by_dcid[dcid] is keys["server"][2], "wrong key cached"
    p2 = seal(right, dcid, 300, 2, obj(42))
    assert d.seq(PT_ARRIVE, p2[:128], len(p2)) == [(42, 0x99)], "128-byte prefix (CTR)"
    p3 = seal(right, dcid, 301, 2, obj(43))
    bad = bytearray(p3)
    bad[-1] ^= 1
    assert d.seq(PT_ARRIVE, bytes(bad), len(bad)) == [], "tag not checked"
    assert d.seq(PT_ARRIVE, p3, len(p3)) == [(43, 0x99)]
    # the publisher's direction uses client secrets only: no key opens it
    d2 = Decoder(keys)
    assert d2.seq(PT_INGRESS, p1, len(p1)) == [] and d2.n["no_key"] == 1
    assert d2.seq(PT_DEPART, p1, len(p1)) == [] and d2.n["no_key"] == 2
    # truncated packet numbers across a window (pn 0x1ff after 0x1f0, 1 byte)
    d3 = Decoder({"client": [], "server": [right]})
    p4 = seal(right, dcid, 0x1F0, 2, obj(1))
    assert d3.seq(PT_ARRIVE, p4, len(p4)) == [(1, 0x99)]
    p5 = seal(right, dcid, 0x205, 1, obj(2))
    assert d3.seq(PT_ARRIVE, p5, len(p5)) == [(2, 0x99)] and d3.largest[(PT_ARRIVE, dcid)] == 0x205
    # key updates: phase 1 (generation 1), then phase 0 again (generation 2),
    # whole and prefix; generation 1's keys are not generation 0's
    assert right.gen(1)[0] != right.key and right.gen(2)[0] != right.key
    p6 = seal(right, dcid, 0x206, 2, obj(3), g=1)
    assert d3.seq(PT_ARRIVE, p6, len(p6)) == [(3, 0x99)] and d3.gen[dcid] == 1
    p7 = seal(right, dcid, 0x207, 2, obj(4), g=2)
    assert d3.seq(PT_ARRIVE, p7[:100], len(p7)) == [(4, 0x99)] and d3.gen[dcid] == 2
    p8 = seal(right, dcid, 0x208, 2, obj(5), g=2)
    assert d3.seq(PT_ARRIVE, p8, len(p8)) == [(5, 0x99)] and d3.n["key_updated"] == 3
    # two objects in one packet (the publisher's side records whole packets)
    p9 = seal(right, dcid, 0x209, 2, obj(6) + obj(7, 0x77), g=2)
    assert d3.seq(PT_ARRIVE, p9, len(p9)) == [(6, 0x99), (7, 0x77)]
    print("residence_tls: self-test passed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--rec")
    ap.add_argument("--keylog", nargs="*", default=[])
    ap.add_argument("--from", dest="t_from", type=int, default=0)
    ap.add_argument("--to", dest="t_to", type=int, default=1 << 63)
    ap.add_argument("--out")
    ap.add_argument("--arrive-out")
    ap.add_argument("--sent-out")
    ap.add_argument("--depart-out")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    if not a.rec or not a.out:
        ap.error("--rec and --out (or --self-test)")
    convert(a)


if __name__ == "__main__":
    main()
