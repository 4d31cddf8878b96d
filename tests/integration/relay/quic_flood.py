#!/usr/bin/env python3
"""Half-open QUIC handshakes for the relay_half_open test.

Captures the first Initial of N real clients (moq-sub pointed at
--capture-port; they get no answer), then replays each one to the relay
from its own UDP socket and never answers: every replay is a client that
starts a handshake and never completes it, as spoofed Initials would. With
the plaintext profile (--rewrite-dcid) one captured Initial is enough: its
DCID is unprotected and is replaced by a fresh random one per replay.

Prints one JSON line: how many were sent and how the relay answered,
per socket: retry (a Retry packet), handshake (Handshake packets or, in
the plaintext profile, CRYPTO frames: the relay keeps state for it), close
(plaintext: a CONNECTION_CLOSE), silent (nothing).
"""
import argparse
import json
import os
import select
import socket
import sys
import time


def long_type(b0):
    """QUIC v1 long header packet type, or None for a short header."""
    if not b0 & 0x80:
        return None
    return ("initial", "0rtt", "handshake", "retry")[(b0 >> 4) & 3]


def varint(d, o):
    """QUIC varint at d[o:] -> (value, next offset)."""
    n = 1 << (d[o] >> 6)
    v = d[o] & 0x3F
    for i in range(1, n):
        v = (v << 8) | d[o + i]
    return v, o + n


def packet_types(d):
    """Types of the coalesced packets of a datagram (long headers carry
    their length unprotected)."""
    types = set()
    o = 0
    try:
        while o < len(d):
            t = long_type(d[o])
            types.add(t or "short")
            if t is None or t == "retry":
                break
            p = o + 5
            p += 1 + d[p]
            p += 1 + d[p]
            if t == "initial":
                tl, p = varint(d, p)
                p += tl
            ln, p = varint(d, p)
            o = p + ln
    except IndexError:
        pass
    return types


def plaintext_kinds(d):
    """Plaintext profile (null protection): what the datagram's long header
    packets carry: 'crypto' (handshake data) or 'close' (CONNECTION_CLOSE)."""
    kinds = set()
    o = 0
    try:
        while o < len(d) and d[o] & 0x80:
            t = (d[o] >> 4) & 3
            pnlen = (d[o] & 3) + 1
            p = o + 5
            p += 1 + d[p]  # DCID
            p += 1 + d[p]  # SCID
            if t == 0:  # token
                tl, p = varint(d, p)
                p += tl
            ln, p = varint(d, p)
            end = p + ln - 16  # the plaintext tag
            f = p + pnlen
            while f < end:
                ft = d[f]
                if ft == 0x00:
                    f += 1
                elif ft in (0x02, 0x03):
                    f += 1
                    _, f = varint(d, f)  # largest
                    _, f = varint(d, f)  # delay
                    n, f = varint(d, f)  # range count
                    _, f = varint(d, f)  # first range
                    for _ in range(2 * n + (3 if ft == 0x03 else 0)):
                        _, f = varint(d, f)
                elif ft == 0x06:
                    kinds.add("crypto")
                    break
                elif ft in (0x1C, 0x1D):
                    kinds.add("close")
                    break
                else:
                    break
            o = p + ln
    except IndexError:
        pass
    return kinds


def capture(port, count, wait_s):
    """First Initial datagram per DCID received on 127.0.0.1:port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    print("capturing", flush=True, file=sys.stderr)
    got = {}
    end = time.time() + wait_s
    while len(got) < count and time.time() < end:
        r, _, _ = select.select([s], [], [], 0.1)
        if not r:
            continue
        d, _ = s.recvfrom(65536)
        if long_type(d[0]) != "initial" or len(d) < 1200:
            continue
        dcid = d[6:6 + d[5]]
        got.setdefault(dcid, d)
    s.close()
    return list(got.values())


def with_dcid(pkt, dcid):
    """The Initial with its DCID replaced (same length; plaintext only)."""
    n = pkt[5]
    assert len(dcid) == n
    return pkt[:6] + dcid + pkt[6 + n:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capture-port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--relay", required=True, help="HOST:PORT")
    ap.add_argument("--rewrite-dcid", action="store_true",
                    help="plaintext: one capture, a fresh DCID per replay")
    ap.add_argument("--listen", type=float, default=1.0,
                    help="seconds to collect the relay's answers")
    ap.add_argument("--ready-file", help="touched once replaying is done")
    a = ap.parse_args()
    host, port = a.relay.rsplit(":", 1)
    relay = (host, int(port))

    caps = capture(a.capture_port, 1 if a.rewrite_dcid else a.count, 10)
    if not caps:
        print(json.dumps({"error": "no Initial captured"}))
        return 1
    if a.rewrite_dcid:
        base = caps[0]
        caps = [with_dcid(base, os.urandom(base[5])) for _ in range(a.count)]
    socks = []
    for pkt in caps:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.sendto(pkt, relay)
        socks.append(s)
        time.sleep(0.005)  # in order, so the relay sees them one by one
    if a.ready_file:
        open(a.ready_file, "w").close()
    answers = [set() for _ in socks]
    end = time.time() + a.listen
    while time.time() < end:
        r, _, _ = select.select(socks, [], [], 0.05)
        for s in r:
            d, _ = s.recvfrom(65536)
            k = answers[socks.index(s)]
            k |= packet_types(d)
            if a.rewrite_dcid:
                k |= plaintext_kinds(d)
    res = {"sent": len(socks),
           "retry": sum("retry" in x for x in answers),
           "handshake": sum(bool(x & {"handshake", "crypto"}) for x in answers),
           "close": sum("close" in x for x in answers),
           "silent": sum(not x for x in answers)}
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
