#!/usr/bin/env python3
"""Fill a pinned BPF hash map with dummy entries until it refuses one.

    fill_map.py PIN KEY_SIZE VALUE_SIZE

Keys are KEY_SIZE bytes: 0xff in the first 4 (a slot / id no real entry
uses), then a counter; values are zero. Prints the number of entries
added and exits 0 once the map refused an update with E2BIG (full), 1 on
any other error. Uses the bpf() syscall directly (bpftool takes a process
per entry: minutes for 131,072).
"""
import ctypes
import ctypes.util
import errno
import os
import struct
import sys

SYS_BPF = 321  # x86_64
BPF_MAP_UPDATE_ELEM = 2
BPF_OBJ_GET = 7
BPF_NOEXIST = 1

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(SYS_BPF, cmd, buf, 128)
    return r, ctypes.get_errno()


def main():
    pin, ksz, vsz = sys.argv[1].encode() + b"\0", int(sys.argv[2]), int(sys.argv[3])
    path = ctypes.create_string_buffer(pin)
    fd, err = bpf(BPF_OBJ_GET, struct.pack("=QII", ctypes.addressof(path), 0, 0))
    if fd < 0:
        print("cannot open %s: %s" % (pin.decode(), os.strerror(err)), file=sys.stderr)
        return 1
    key = ctypes.create_string_buffer(ksz)
    val = ctypes.create_string_buffer(vsz)
    n = 0
    while True:
        ctypes.memmove(key, b"\xff" * 4 + n.to_bytes(ksz - 4, "little"), ksz)
        attr = struct.pack("=IIQQQ", fd, 0, ctypes.addressof(key), ctypes.addressof(val),
                           BPF_NOEXIST)
        r, err = bpf(BPF_MAP_UPDATE_ELEM, attr)
        if r < 0:
            if err == errno.E2BIG:
                print(n)
                return 0
            print("update %d: %s" % (n, os.strerror(err)), file=sys.stderr)
            return 1
        n += 1


if __name__ == "__main__":
    sys.exit(main())
