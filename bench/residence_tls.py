#!/usr/bin/env python3
"""bench/residence_tls.py - turn tstamp_rec.bpf.o's records (bench/tstamp.c
`rec` files: struct tsr_rec, tc-progs/testing/tstamp_rec.h) into the
"point key dport seq ns" lines of `tstamp dump`, so bench/residence_report.py
reports a TLS run like a plaintext one (bench/residence_tls.sh).

A record holds a kernel timestamp and the first TSR_CAP bytes of a UDP
payload. Its MQP1 sequence number (payload header bytes 16..23) is found:
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
Key phase 1 (a key update) is not derived: such packets are counted.

    residence_tls.py --rec FILE --keylog FILE... --from NS --to NS \\
        --out DUMP [--arrive-out DUMP] [--sent-out FILE]
    residence_tls.py --self-test

--out gets points 0 (relay egress) and 1 (relay ingress); --arrive-out gets
point 1 and point 2 (the subscriber's interface) written as point 0, so the
same report measures relay ingress -> subscriber arrival. Only records with
FROM <= ns <= TO are written; a key's first sighting wins (like BPF_NOEXIST).
--sent-out gets "seq ns" per object: the publisher's CLOCK_MONOTONIC send
time (MQP1 header bytes 24..31, one clock on this host). Counters go to
stderr.
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
CAP = 320  # TSR_CAP
CID_LEN = 8  # MOQ_QUIC_CID_LEN
CLONE_MARK, CLONE_MASK = 0x4D510000, 0xFFFF0000
PT_EGRESS, PT_INGRESS, PT_ARRIVE = 0, 1, 2


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
    """QUIC v1 AES-128-GCM packet protection keys of one secret."""

    def __init__(self, secret, name=""):
        self.name = name
        self.key = hkdf_expand_label(secret, b"quic key", 16)
        self.iv = hkdf_expand_label(secret, b"quic iv", 12)
        self.hp = hkdf_expand_label(secret, b"quic hp", 16)
        self.aead = AESGCM(self.key)
        self.hp_ecb = Cipher(algorithms.AES(self.hp), modes.ECB())

    def mask(self, sample):
        e = self.hp_ecb.encryptor()
        return e.update(sample) + e.finalize()

    def nonce(self, pn):
        return bytes(a ^ b for a, b in zip(self.iv, pn.to_bytes(12, "big")))

    def ctr(self, pn, data):
        """GCM's encryption of data without the tag: CTR from nonce || 2."""
        c = Cipher(algorithms.AES(self.key), modes.CTR(self.nonce(pn) + b"\x00\x00\x00\x02")).encryptor()
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
        self.key_phase1 = False  # the last packet tried had key phase 1
        self.n = dict.fromkeys(("records", "clear", "short", "long", "key_phase1", "opened_tag",
                                "opened_prefix", "no_key", "no_object", "not_quic"), 0)

    def seq(self, point, data, udplen):
        """(MQP1 sequence number, send time or None) of a record's payload
        bytes, or None."""
        self.n["records"] += 1
        pos = find_mqp1(data)
        if pos >= 0:
            self.n["clear"] += 1
            return seq_at(data, pos)
        if len(data) < 1 + CID_LEN + 4 + 16 or data[0] & 0xC0 != 0x40:
            self.n["long" if data and data[0] & 0x80 else "not_quic"] += 1
            return None
        self.n["short"] += 1
        self.key_phase1 = False
        dcid = bytes(data[1:1 + CID_LEN])
        full = len(data) == udplen
        if dcid in self.by_dcid:
            cands = [self.by_dcid[dcid]]
        elif full and dcid in self.dead:
            cands = []
        else:
            cands = self.keys["client" if point == PT_INGRESS else "server"]
        for k in cands:
            r = self.open(k, point, dcid, data, full)
            if r is None:
                continue
            opened, pn, plain = r
            self.by_dcid[dcid] = k
            self.largest[(point, dcid)] = max(pn, self.largest.get((point, dcid), -1))
            pos = find_mqp1(plain)
            if pos < 0:
                self.n["no_object"] += 1
                return None
            self.n[opened] += 1
            return seq_at(plain, pos)
        if self.key_phase1:
            self.n["key_phase1"] += 1
        else:
            self.n["no_key"] += 1
        if full and dcid not in self.by_dcid:
            self.dead.add(dcid)
        return None

    def open(self, k, point, dcid, data, full):
        """(how, pn, plaintext) with k, or None (wrong key or no object)."""
        pn_off = 1 + CID_LEN
        m = k.mask(bytes(data[pn_off + 4:pn_off + 20]))
        first = data[0] ^ (m[0] & 0x1F)
        pnlen = (first & 3) + 1
        self.key_phase1 = bool(first & 0x04)
        if self.key_phase1:
            return None
        tpn = int.from_bytes(bytes(a ^ b for a, b in zip(data[pn_off:pn_off + pnlen], m[1:1 + pnlen])), "big")
        hdr = bytes([first]) + bytes(data[1:pn_off]) + tpn.to_bytes(pnlen, "big")
        body = bytes(data[pn_off + pnlen:])
        base = decode_pn(self.largest.get((point, dcid), -1), tpn, pnlen)
        win = 1 << (8 * pnlen)
        for pn in (base, base + win, base - win):
            if pn < 0:
                continue
            if full:
                try:
                    return "opened_tag", pn, k.aead.decrypt(k.nonce(pn), body, hdr)
                except InvalidTag:
                    continue
            plain = k.ctr(pn, body)
            if find_mqp1(plain) >= 0:
                return "opened_prefix", pn, plain
        return None


def read_recs(path):
    size = REC.size + CAP
    with open(path, "rb") as f:
        blob = f.read()
    for off in range(0, len(blob) - size + 1, size):
        ns, point, daddr, mark, dport, caplen, udplen, _ = REC.unpack_from(blob, off)
        data = blob[off + REC.size:off + REC.size + min(caplen, CAP)]
        yield ns, point, daddr, mark, dport, udplen, data


def convert(a):
    dec = Decoder(read_keylogs(a.keylog))
    out, arrive, sent = {}, {}, {}
    for ns, point, daddr, mark, dport, udplen, data in read_recs(a.rec):
        r = dec.seq(point, data, udplen)
        if r is None or not a.t_from <= ns <= a.t_to:
            continue
        seq, t_sent = r
        if t_sent is not None:
            sent.setdefault(seq, t_sent)
        port = socket.ntohs(dport)
        if point == PT_EGRESS and mark & CLONE_MASK == CLONE_MARK:
            key = (0, f"slot{mark & ~CLONE_MASK & 0xFFFFFFFF}", 0, seq)
        else:
            key = (min(point, 1) if point != PT_ARRIVE else 0, socket.inet_ntoa(struct.pack("<I", daddr)), port, seq)
        dest = [arrive] if point == PT_ARRIVE else [out] + ([arrive] if point == PT_INGRESS else [])
        for d in dest:
            if key not in d or ns < d[key]:
                d[key] = ns
    for path, d in ((a.out, out), (a.arrive_out, arrive)):
        if not path:
            continue
        with open(path, "w") as f:
            for (pt, k, port, seq), ns in d.items():
                f.write(f"{pt} {k} {port} {seq} {ns}\n")
    if a.sent_out:
        with open(a.sent_out, "w") as f:
            for seq, ns in sent.items():
                f.write(f"{seq} {ns}\n")
    print("residence_tls: " + " ".join(f"{k}={v}" for k, v in dec.n.items()) +
          f" keys={len(dec.keys['client'])}c/{len(dec.keys['server'])}s dcids={len(dec.by_dcid)}", file=sys.stderr)


def self_test():
    """Known answers (RFC 9001 A.1, RFC 9000 A.3), then packets sealed here
    by AES-GCM with a known key, found among decoys by the decoder."""
    k = Keys(bytes.fromhex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"))
    assert k.key.hex() == "1f369613dd76d5467730efcbe3b1a22d", k.key.hex()
    assert k.iv.hex() == "fa044b2f42a3fd3b46fb255c", k.iv.hex()
    assert k.hp.hex() == "9f50449e04a0e810283a1e9933adedd2", k.hp.hex()
    assert decode_pn(0xA82F30EA, 0x9B32, 2) == 0xA82F9B32
    assert decode_pn(0x1F0, 0x05, 1) == 0x205 and decode_pn(0x100, 0xFF, 1) == 0xFF
    secrets = [hashlib.sha256(bytes([i])).digest() for i in range(4)]
    right = Keys(secrets[2])

    def seal(keys, dcid, pn, pnlen, payload):
        first = 0x40 | (pnlen - 1)
        hdr = bytes([first]) + dcid + (pn & ((1 << (8 * pnlen)) - 1)).to_bytes(pnlen, "big")
        ct = AESGCM(keys.key).encrypt(keys.nonce(pn), payload, hdr)
        pkt = bytearray(hdr + ct)
        e = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor()
        m = e.update(bytes(pkt[1 + CID_LEN + 4:1 + CID_LEN + 20])) + e.finalize()
        pkt[0] ^= m[0] & 0x1F
        for i in range(pnlen):
            pkt[1 + CID_LEN + i] ^= m[1 + i]
        return bytes(pkt)

    def obj(seq):  # ACK frame, STREAM frame header, MQP1 header, payload
        mqp = b"MQP1" + bytes([1, 0, 0, 0]) + b"\x00" * 8 + seq.to_bytes(8, "big") + (0x99).to_bytes(8, "big")
        return b"\x02\x05\x00\x00\x05" + b"\x0e\x02\x40\xd0" + b"\x04\x01\x00" + mqp + bytes(range(176))

    dcid = bytes.fromhex("0102030405060708")
    keys = {"client": [], "server": [Keys(s) for s in secrets]}
    d = Decoder(keys)
    p1 = seal(right, dcid, 7, 1, obj(0x1122334455667788))
    assert find_mqp1(p1) < 0, "sealed packet shows its object in clear"
    assert d.seq(PT_EGRESS, p1, len(p1)) == (0x1122334455667788, 0x99), "whole packet"
    assert d.by_dcid[dcid] is keys["server"][2], "wrong key cached"
    p2 = seal(right, dcid, 300, 2, obj(42))
    assert d.seq(PT_ARRIVE, p2[:128], len(p2)) == (42, 0x99), "128-byte prefix (CTR)"
    p3 = seal(right, dcid, 301, 2, obj(43))
    bad = bytearray(p3)
    bad[-1] ^= 1
    assert d.seq(PT_ARRIVE, bytes(bad), len(bad)) is None, "tag not checked"
    assert d.seq(PT_ARRIVE, p3, len(p3)) == (43, 0x99)
    # the publisher's direction uses client secrets only: no key opens it
    d2 = Decoder(keys)
    assert d2.seq(PT_INGRESS, p1, len(p1)) is None and d2.n["no_key"] == 1
    # truncated packet numbers across a window (pn 0x1ff after 0x1f0, 1 byte)
    d3 = Decoder({"client": [], "server": [right]})
    p4 = seal(right, dcid, 0x1F0, 2, obj(1))
    assert d3.seq(PT_ARRIVE, p4, len(p4)) == (1, 0x99)
    p5 = seal(right, dcid, 0x205, 1, obj(2))
    assert d3.seq(PT_ARRIVE, p5, len(p5)) == (2, 0x99) and d3.largest[(PT_ARRIVE, dcid)] == 0x205
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
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    if not a.rec or not a.out:
        ap.error("--rec and --out (or --self-test)")
    convert(a)


if __name__ == "__main__":
    main()
