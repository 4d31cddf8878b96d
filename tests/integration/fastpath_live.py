#!/usr/bin/env python3
"""Helper of fastpath_live.sh: fixture packets, map filling through bpftool,
UDP sender/receivers and the check of what each subscriber received.

  fastpath_live.py maps PINDIR STATEFILE   fill the pinned moq_* maps
  fastpath_live.py send DST_IP             send the fixture packets (publisher)
  fastpath_live.py ping SRC_IP SRC_PORT DST_IP SLOT   subscriber -> relay packet
  fastpath_live.py recv IP PORT OUT N      receive N datagrams (or time out)
  fastpath_live.py check STATEFILE OUT SLOT   verify one subscriber's packets
"""
import json
import socket
import struct
import subprocess
import sys
import time

RELAY_PORT = 4443
PUB_PORT = 5000
UP_CID = bytes([0xa1, 1, 2, 3, 4, 5, 6, 7])
UP_CONN = 7
ALIAS = 5
TAG = b"moq-plaintext-v1"


def _layout_version():
    """MOQ_MAPS_LAYOUT_VERSION of the header the objects were built from."""
    import os
    import re
    hdr = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tc-progs/moq_maps.h")
    with open(hdr) as f:
        return int(re.search(r"#define MOQ_MAPS_LAYOUT_VERSION (\d+)", f.read()).group(1))


LAYOUT_VERSION = _layout_version()
MAX_FANOUT = 4096
MAX_SUBS = 4096


def qv4(v):  # 4-byte QUIC varint
    return struct.pack(">I", 0x80000000 | v)


def vi(v):  # minimal MoQT vi64 (small values only here)
    if v < 0x80:
        return bytes([v])
    if v < 0x4000:
        return struct.pack(">H", 0x8000 | v)
    raise ValueError(v)


def sub_dcid(slot):
    return bytes([0xb0 + slot, 0xb0, 0xb0, 0xb0, 9, 9, 9, slot])


def sub_scid(slot):
    return bytes([0xc0 + slot, 0xc0, 0xc0, 0xc0, 8, 8, 8, slot])


def down_alias(slot):
    return 10 + slot


def short_hdr(dcid, pn):
    return bytes([0x43]) + dcid + struct.pack(">I", pn & 0xffffffff)


def ack_frame():
    # ACK: largest 1000 (2-byte), delay 25, 2 ranges, first range 3
    return bytes([0x02]) + struct.pack(">H", 0x4000 | 1000) + bytes([25, 2, 3, 2]) + \
        struct.pack(">H", 0x4000 | 70) + bytes([2]) + struct.pack(">H", 0x4000 | 70)


def fixtures():
    """Upstream payloads as (frames, kind) with kind describing how they
    are rewritten: ("s0", prefix_len, sid_off, alias_off) etc."""
    out = []
    sid = 2
    obj = vi(0) + vi(100) + bytes(range(100))
    hdr = vi(0x14) + vi(ALIAS) + vi(42) + vi(0) + bytes([32])
    data0 = hdr + obj
    # stream start: STREAM (OFF=0, LEN) + PADDING
    f = bytes([0x0a]) + qv4(sid) + struct.pack(">H", 0x4000 | len(data0)) + data0 + bytes(5)
    out.append(dict(frames=f, prefix=0, sid_off=1, alias_off=1 + 4 + 2 + 1))
    offset = len(data0)
    for k in range(8):
        data = vi(k) + vi(200) + bytes([(k * 7 + j) & 0xff for j in range(200)])
        f = bytes([0x0e]) + qv4(sid) + struct.pack(">H", 0x4000 | offset) + \
            struct.pack(">H", 0x4000 | len(data)) + data
        if k == 3:  # ACK + PADDING before the STREAM frame
            pre = ack_frame() + bytes(1)
            out.append(dict(frames=pre + f, prefix=len(pre), sid_off=len(pre) + 1, alias_off=None))
        else:
            out.append(dict(frames=f, prefix=0, sid_off=1, alias_off=None))
        offset += len(data)
    # FIN
    f = bytes([0x0f]) + qv4(sid) + struct.pack(">H", 0x4000 | offset) + bytes([0x40, 3]) + b"end"
    out.append(dict(frames=f, prefix=0, sid_off=1, alias_off=None))
    # two datagrams: OBJECT_DATAGRAM type 0 (alias, group, object, prio)
    for obj_id in (0, 1):
        d = vi(0) + vi(ALIAS) + vi(43) + vi(obj_id) + bytes([16]) + b"datagram-%d" % obj_id
        out.append(dict(frames=bytes([0x30]) + d, prefix=0, sid_off=None, alias_off=2))
    return out


def bpftool_update(path, key, value):
    cmd = ["bpftool", "map", "update", "pinned", path, "key", "hex"] + \
        ["%02x" % b for b in key] + ["value", "hex"] + ["%02x" % b for b in value]
    subprocess.run(cmd, check=True)


def ip4(s):
    return socket.inet_aton(s)


def cmd_maps(pindir, statefile):
    st = json.load(open(statefile))
    gen = 1
    now = time.monotonic_ns()
    cfg = struct.pack("<IIQQI", LAYOUT_VERSION, 1, now, 600 * 10**9, gen) + \
        struct.pack(">H", RELAY_PORT) + bytes(2)
    bpftool_update(pindir + "/moq_config", struct.pack("<I", 0), cfg)
    up = struct.pack("<IIBB", UP_CONN, gen, 4, 0) + struct.pack(">H", PUB_PORT) + bytes(4) + \
        ip4(st["pub_ip"]) + bytes(12) + bytes(16)  # daddr unset: not checked
    bpftool_update(pindir + "/moq_upstreams", UP_CID, up)
    # an empty packet-number window (struct moq_pn_window: next, generation, slots)
    bpftool_update(pindir + "/moq_pn_windows", struct.pack("<I", UP_CONN),
                   struct.pack("<QII", 0, gen, 0) + bytes(8 * 8))
    slots = []
    for s in st["subs"]:
        slot = s["slot"]
        slots.append(slot)
        # MACs left zero: the subscriber ingress program learns them
        v = struct.pack("<IIIBBH", 1, gen, s["ifindex"], 4, 0, 0) + bytes(12) + \
            struct.pack(">HH", RELAY_PORT, s["port"]) + ip4(s["relay_ip"]) + bytes(12) + \
            ip4(s["ip"]) + bytes(12) + sub_dcid(slot) + sub_scid(slot)
        assert len(v) == 80
        bpftool_update(pindir + "/moq_subscribers", struct.pack("<I", slot), v)
        bpftool_update(pindir + "/moq_sub_by_cid", sub_scid(slot), struct.pack("<I", slot))
        bpftool_update(pindir + "/moq_subscriptions", struct.pack("<IIQ", slot, UP_CONN, ALIAS),
                       struct.pack("<QQ", down_alias(slot), 0))  # alias, start group
        bpftool_update(pindir + "/moq_conn_seq", struct.pack("<I", slot),
                       struct.pack("<QQQQ", s["pn0"], 0, 0, 0))
    t = struct.pack("<IB", len(slots), 128) + bytes(3) + \
        b"".join(struct.pack("<I", x) for x in slots) + bytes(4 * (MAX_FANOUT - len(slots)))
    bpftool_update(pindir + "/moq_tracks", struct.pack("<IIQ", UP_CONN, 0, ALIAS), t)


def cmd_send(dst):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", PUB_PORT))
    for i, fx in enumerate(fixtures()):
        s.sendto(short_hdr(UP_CID, 0x1000 + i) + fx["frames"] + TAG, (dst, RELAY_PORT))
        time.sleep(0.01)


def cmd_ping(src, sport, dst, slot):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, int(sport)))
    # an ACK-only short-header packet to the relay's CID for this slot
    s.sendto(short_hdr(sub_scid(int(slot)), 1) + ack_frame() + TAG, (dst, RELAY_PORT))


def cmd_recv(ip, port, out, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, int(port)))
    s.settimeout(8)
    with open(out, "w") as f:
        f.write("ready\n")
        f.flush()
        for _ in range(int(n)):
            try:
                d, peer = s.recvfrom(4096)
            except socket.timeout:
                break
            f.write("%s %d %s\n" % (peer[0], peer[1], d.hex()))
            f.flush()


def cmd_insns(*prog_ids):
    for p in prog_ids:
        prog_insns(p)


def prog_insns(prog_id):
    """verified_insns of a loaded program (bpftool 7.1 does not print it):
    BPF_PROG_GET_FD_BY_ID then BPF_OBJ_GET_INFO_BY_FD, struct bpf_prog_info
    of linux/bpf.h (verified_insns at offset 216, name at 64)."""
    import ctypes
    import os
    libc = ctypes.CDLL(None, use_errno=True)
    SYS_bpf = 321  # x86-64
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<I", attr, 0, int(prog_id))
    fd = libc.syscall(SYS_bpf, 13, attr, 128)
    if fd < 0:
        print("prog %s: no fd (errno %d)" % (prog_id, ctypes.get_errno()))
        return
    info = ctypes.create_string_buffer(232)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQ", attr, 0, fd, 232, ctypes.addressof(info))
    if libc.syscall(SYS_bpf, 15, attr, 128) == 0:
        name = info.raw[64:80].split(b"\0")[0].decode()
        print("  prog id %s %s verified_insns=%d" % (prog_id, name, struct.unpack_from("<I", info.raw, 216)[0]))
    os.close(fd)


def cmd_check_originals(out):
    """The relay's socket (the agent's stand-in) got every original
    unchanged: the fast path never modifies the packet it clones."""
    got = [bytes.fromhex(l.split()[2]) for l in open(out).read().splitlines()[1:]]
    want = [short_hdr(UP_CID, 0x1000 + i) + fx["frames"] + TAG for i, fx in enumerate(fixtures())]
    ok = got == want
    print("relay socket: %d/%d originals, %s" % (len(got), len(want), "unchanged" if ok else "DIFFER"))
    sys.exit(0 if ok else 1)


def cmd_check(statefile, *pairs):
    """pairs: OUTFILE SLOT ..."""
    rc = 0
    for out, slot in zip(pairs[0::2], pairs[1::2]):
        rc |= check_one(statefile, out, int(slot))
    sys.exit(rc)


def check_one(statefile, out, slot):
    st = json.load(open(statefile))
    sub = [s for s in st["subs"] if s["slot"] == slot][0]
    got = [l.split() for l in open(out).read().splitlines()[1:]]
    fx = fixtures()
    errors = []
    if len(got) != len(fx):
        errors.append("slot %d: received %d packets, want %d" % (slot, len(got), len(fx)))
    for k, (g, f) in enumerate(zip(got, fx)):
        peer, pport, hexd = g
        d = bytes.fromhex(hexd)
        frames = bytearray(f["frames"])
        frames[:f["prefix"]] = bytes(f["prefix"])
        if f["sid_off"] is not None:
            frames[f["sid_off"]:f["sid_off"] + 4] = qv4(3)
        if f["alias_off"] is not None:
            frames[f["alias_off"]] = down_alias(slot)
        want = short_hdr(sub_dcid(slot), sub["pn0"] + k) + bytes(frames) + TAG
        if peer != sub["relay_ip"] or int(pport) != RELAY_PORT:
            errors.append("slot %d pkt %d: from %s:%s" % (slot, k, peer, pport))
        if d != want:
            errors.append("slot %d pkt %d: got %s want %s" % (slot, k, d.hex(), want.hex()))
    for e in errors:
        print(e)
    print("slot %d: %d packets, packet numbers %d..%d, %s" %
          (slot, len(got), sub["pn0"], sub["pn0"] + len(got) - 1, "OK" if not errors else "FAIL"))
    return 1 if errors else 0


if __name__ == "__main__":
    c = sys.argv[1]
    a = sys.argv[2:]
    {"maps": cmd_maps, "send": cmd_send, "ping": cmd_ping, "recv": cmd_recv,
     "check": cmd_check, "originals": cmd_check_originals, "insns": cmd_insns, "count": lambda: print(len(fixtures()))}[c](*a)
