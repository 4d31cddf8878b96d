#!/usr/bin/env python3
"""bench/profile_frames.py - what the packets between a subscriber host and
the relay carry (plaintext profile only: null packet protection, so 1-RTT
frames are readable). Captures on one interface for some seconds with an
AF_PACKET socket (run it inside the subscriber's namespace), parses every
1-RTT packet to or from UDP port PORT and counts packets by their frame-type
signature, e.g. "ACK" or "ACK+MAX_STREAM_DATA", and how many are
ack-eliciting. Prints one JSON object:
  {"to_relay": {"packets": N, "ack_eliciting": N, "signatures": {...}},
   "from_relay": {...}, "seconds": S}
Used by bench/profile.sh; standard library only.

  profile_frames.py --ifname eth0 --seconds 5 [--port 4443]
"""
import argparse
import json
import select
import socket
import struct
import time

ETH_P_ALL = 0x0003
NAMES = {0x00: "PADDING", 0x01: "PING", 0x04: "RESET_STREAM", 0x05: "STOP_SENDING",
         0x06: "CRYPTO", 0x07: "NEW_TOKEN", 0x10: "MAX_DATA", 0x11: "MAX_STREAM_DATA",
         0x12: "MAX_STREAMS", 0x13: "MAX_STREAMS", 0x14: "DATA_BLOCKED",
         0x15: "STREAM_DATA_BLOCKED", 0x16: "STREAMS_BLOCKED", 0x17: "STREAMS_BLOCKED",
         0x18: "NEW_CONNECTION_ID", 0x19: "RETIRE_CONNECTION_ID", 0x1a: "PATH_CHALLENGE",
         0x1b: "PATH_RESPONSE", 0x1c: "CONNECTION_CLOSE", 0x1d: "CONNECTION_CLOSE",
         0x1e: "HANDSHAKE_DONE", 0x30: "DATAGRAM", 0x31: "DATAGRAM"}
CID_LEN = 8
TAG_LEN = 16


def varint(b, i):
    if i >= len(b):
        raise ValueError("short")
    n = 1 << (b[i] >> 6)
    if i + n > len(b):
        raise ValueError("short")
    v = b[i] & 0x3F
    for k in range(1, n):
        v = (v << 8) | b[k + i]
    return v, i + n


def frames(p):
    """Frame names of one 1-RTT payload (stops at anything it cannot parse)."""
    out, i = [], 0
    while i < len(p):
        t, i = varint(p, i)
        if t == 0x00:
            while i < len(p) and p[i] == 0:
                i += 1
            out.append("PADDING")
            continue
        if t in (0x02, 0x03):
            _, i = varint(p, i)
            _, i = varint(p, i)
            cnt, i = varint(p, i)
            _, i = varint(p, i)
            for _ in range(2 * cnt + (3 if t == 0x03 else 0)):
                _, i = varint(p, i)
            out.append("ACK")
            continue
        if 0x08 <= t <= 0x0F:
            _, i = varint(p, i)
            if t & 0x04:
                _, i = varint(p, i)
            if t & 0x02:
                n, i = varint(p, i)
                i += n
            else:
                i = len(p)
            out.append("STREAM")
            continue
        name = NAMES.get(t)
        if name is None:
            out.append("UNKNOWN")
            break
        if t in (0x01, 0x1E):
            pass
        elif t in (0x10, 0x12, 0x13, 0x14, 0x16, 0x17, 0x19):
            _, i = varint(p, i)
        elif t in (0x05, 0x11, 0x15):
            _, i = varint(p, i)
            _, i = varint(p, i)
        elif t == 0x04:
            for _ in range(3):
                _, i = varint(p, i)
        elif t in (0x06, 0x07):
            if t == 0x06:
                _, i = varint(p, i)
            n, i = varint(p, i)
            i += n
        elif t == 0x18:
            _, i = varint(p, i)
            _, i = varint(p, i)
            i += 1 + p[i] + 16
        elif t in (0x1A, 0x1B):
            i += 8
        elif t in (0x1C, 0x1D):
            _, i = varint(p, i)
            if t == 0x1C:
                _, i = varint(p, i)
            n, i = varint(p, i)
            i += n
        elif t in (0x30, 0x31):
            if t == 0x31:
                n, i = varint(p, i)
                i += n
            else:
                i = len(p)
        out.append(name)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ifname", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--port", type=int, default=4443)
    a = ap.parse_args()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.ifname, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    res = {d: {"packets": 0, "ack_eliciting": 0, "signatures": {}} for d in ("to_relay", "from_relay")}
    t0 = time.monotonic()
    end = t0 + a.seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        if not select.select([s], [], [], left)[0]:
            continue
        pkt = s.recv(2048)
        if len(pkt) < 14 + 20 + 8 or struct.unpack("!H", pkt[12:14])[0] != 0x0800:
            continue
        ihl = (pkt[14] & 0x0F) * 4
        if pkt[23] != 17:
            continue
        u = 14 + ihl
        sport, dport = struct.unpack("!HH", pkt[u:u + 4])
        if dport == a.port:
            d = res["to_relay"]
        elif sport == a.port:
            d = res["from_relay"]
        else:
            continue
        q = pkt[u + 8:]
        if not q or q[0] & 0x80:  # long header (handshake): not counted
            continue
        pn_len = (q[0] & 0x03) + 1
        hdr = 1 + CID_LEN + pn_len
        try:
            names = frames(q[hdr:len(q) - TAG_LEN])
        except (ValueError, IndexError):
            names = ["MALFORMED"]
        uniq = []
        for n in names:
            if n != "PADDING" and n not in uniq:
                uniq.append(n)
        sig = "+".join(uniq) or "PADDING"
        d["packets"] += 1
        if any(n not in ("ACK", "PADDING", "CONNECTION_CLOSE") for n in names):
            d["ack_eliciting"] += 1
        d["signatures"][sig] = d["signatures"].get(sig, 0) + 1
    res["seconds"] = round(time.monotonic() - t0, 2)
    print(json.dumps(res, sort_keys=True))


if __name__ == "__main__":
    main()
