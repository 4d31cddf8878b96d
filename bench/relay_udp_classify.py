#!/usr/bin/env python3
"""Classify the plaintext-profile 1-RTT packets crossing one relay interface.

    relay_udp_classify.py IFACE SECONDS [RELAY_PORT]

Run inside the relay's network namespace (nsenter --net=...). Captures with
an AF_PACKET socket (it sees incoming packets before tc ingress, outgoing
ones after tc egress), parses every short-header packet's frames (null
protection: the payload is plaintext, docs/plaintext-profile.md) and prints,
per subscriber connection and second, how many packets of each frame set
went each way. Outgoing STREAM frames with a 4-byte stream ID are the fast
path's media (kernel clones or the agent's writer; ngtcp2 writes minimal
varints). Incoming ACK-only and ACK + PING packets are split into those
acknowledging a relay ngtcp2 packet that was ack-eliciting and not yet
acknowledged (the kernel's guard passes them to the relay: they must reach
ngtcp2), those with more than 8 ACK ranges (MOQ_ACK_REC_RANGES: passed too)
and the rest (consumable). Used for issue 18 (docs/results.md 11).
"""
import collections
import socket
import struct
import sys
import time

TAG = b"moq-plaintext-v1"
NAMES = {0x00: "PADDING", 0x01: "PING", 0x04: "RESET_STREAM", 0x05: "STOP_SENDING",
         0x06: "CRYPTO", 0x07: "NEW_TOKEN", 0x10: "MAX_DATA", 0x11: "MAX_STREAM_DATA",
         0x12: "MAX_STREAMS_BIDI", 0x13: "MAX_STREAMS_UNI", 0x14: "DATA_BLOCKED",
         0x15: "STREAM_DATA_BLOCKED", 0x16: "STREAMS_BLOCKED_BIDI",
         0x17: "STREAMS_BLOCKED_UNI", 0x18: "NEW_CONNECTION_ID",
         0x19: "RETIRE_CONNECTION_ID", 0x1a: "PATH_CHALLENGE", 0x1b: "PATH_RESPONSE",
         0x1c: "CONNECTION_CLOSE", 0x1d: "CONNECTION_CLOSE_APP", 0x1e: "HANDSHAKE_DONE"}
NVARINTS = {0x04: 3, 0x05: 2, 0x10: 1, 0x11: 2, 0x12: 1, 0x13: 1, 0x14: 1, 0x15: 2,
            0x16: 1, 0x17: 1, 0x19: 1}


def varint(b, o):
    n = 1 << (b[o] >> 6)
    v = b[o] & 0x3f
    for i in range(1, n):
        v = (v << 8) | b[o + i]
    return v, o + n


def frames(p):
    """[(name, detail)] of a plaintext payload; detail: ACK ranges or the
    STREAM frame's stream ID width."""
    o, out = 0, []
    while o < len(p):
        t = p[o]
        if t == 0:
            o += 1
            continue
        o += 1
        if t in (0x02, 0x03):
            largest, o = varint(p, o)
            _, o = varint(p, o)
            cnt, o = varint(p, o)
            first, o = varint(p, o)
            ranges = [(largest - first, largest)]
            lo = largest - first
            for _ in range(cnt):
                gap, o = varint(p, o)
                ln, o = varint(p, o)
                hi = lo - gap - 2
                lo = hi - ln
                ranges.append((lo, hi))
            if t == 0x03:
                for _ in range(3):
                    _, o = varint(p, o)
            out.append(("ACK", ranges))
        elif 0x08 <= t <= 0x0f:
            w = 1 << (p[o] >> 6)
            sid, o = varint(p, o)
            if t & 0x04:
                _, o = varint(p, o)
            if t & 0x02:
                ln, o = varint(p, o)
            else:
                ln = len(p) - o
            o += ln
            out.append(("STREAM", (sid, w)))
        elif t == 0x06:
            _, o = varint(p, o)
            ln, o = varint(p, o)
            o += ln
            out.append(("CRYPTO", None))
        elif t == 0x18:
            _, o = varint(p, o)
            _, o = varint(p, o)
            o += 1 + p[o] + 16
            out.append((NAMES[t], None))
        elif t in (0x1a, 0x1b):
            o += 8
            out.append((NAMES[t], None))
        elif t in (0x1c, 0x1d):
            _, o = varint(p, o)
            if t == 0x1c:
                _, o = varint(p, o)
            ln, o = varint(p, o)
            o += ln
            out.append((NAMES[t], None))
        elif t in (0x30, 0x31):
            if t & 1:
                ln, o = varint(p, o)
            else:
                ln = len(p) - o
            o += ln
            out.append(("DATAGRAM", None))
        elif t in NVARINTS:
            for _ in range(NVARINTS[t]):
                _, o = varint(p, o)
            out.append((NAMES[t], None))
        elif t in NAMES:
            out.append((NAMES[t], None))
        else:
            out.append(("?%x" % t, None))
            break
    return out


def udp_payload(pkt):
    """(src, dst, sport, dport, payload) of an IPv4/IPv6 UDP Ethernet frame, or None."""
    eth = struct.unpack("!H", pkt[12:14])[0]
    if eth == 0x0800:
        ihl = (pkt[14] & 0x0f) * 4
        if pkt[23] != 17:
            return None
        u = 14 + ihl
        src, dst = pkt[26:30], pkt[30:34]
    elif eth == 0x86dd:
        if pkt[20] != 17:
            return None
        u = 14 + 40
        src, dst = pkt[22:38], pkt[38:54]
    else:
        return None
    sp, dp = struct.unpack("!HH", pkt[u:u + 4])
    return src, dst, sp, dp, pkt[u + 8:]


def main():
    iface, secs = sys.argv[1], float(sys.argv[2])
    port = int(sys.argv[3]) if len(sys.argv) > 3 else None
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    s.settimeout(0.2)
    counts = collections.Counter()
    conns = set()
    pending = collections.defaultdict(set)  # peer -> relay's unacked ack-eliciting pns
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            pkt, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        out = addr[2] == socket.PACKET_OUTGOING
        u = udp_payload(pkt)
        if not u:
            continue
        src, dst, sp, dp, p = u
        peer = (dst, dp) if out else (src, sp)
        if port and port not in (sp, dp):
            continue
        if len(p) < 1 + 8 + 4 + 16 or p[0] & 0x80 or p[-16:] != TAG:
            counts[("out" if out else "in", "long header / other")] += 1
            continue
        pn = struct.unpack("!I", p[9:13])[0]
        try:
            fr = frames(p[13:-16])
        except IndexError:
            fr = [("?truncated", None)]
        names = [f[0] for f in fr]
        if out:
            conns.add(peer)
            media = any(f[0] == "STREAM" and f[1][1] == 4 for f in fr)
            if media:
                cls = "media STREAM (kernel clone / agent writer)"
            else:
                cls = "+".join(dict.fromkeys(names)) or "PADDING"
                if any(n not in ("ACK", "PADDING") for n in names):
                    pending[peer].add(pn)
            counts[("out", cls)] += 1
            continue
        cls = "+".join(dict.fromkeys(names)) or "PADDING"
        if cls in ("ACK", "ACK+PING"):
            acked = set()
            for f in fr:
                if f[0] == "ACK":
                    for lo, hi in f[1]:
                        acked |= {x for x in pending[peer] if lo <= x <= hi}
            cls += " (covers an unacked relay ack-eliciting pkt)" if acked else ""
            nr = sum(len(f[1]) for f in fr if f[0] == "ACK")
            cls += " (more than 8 ranges)" if nr > 8 else ""
            pending[peer] -= acked
        counts[("in", cls)] += 1
    n = max(len(conns), 1)
    print("# %s, %.1f s, %d subscriber connections seen" % (iface, secs, n))
    print("| dir | frames | per subscriber per second |")
    print("|---|---|---:|")
    for (d, c), v in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
        print("| %s | %s | %.2f |" % (d, c, v / n / secs))


if __name__ == "__main__":
    main()
