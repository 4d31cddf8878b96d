#!/usr/bin/env python3
"""UDP relay that changes its source port on demand (NAT rebinding).

    udp_rebind.py LISTEN_IP:PORT SERVER_IP:PORT

A client sends to LISTEN; every datagram goes on to SERVER from socket A
or socket B (two ephemeral ports). Whatever the server sends to A or B goes
back to the client. Signals pick the port:
  SIGUSR1  "blip": the next 1-RTT (short header) datagram leaves from B,
           every later one from A again (a path change and its undo, one
           packet apart, as in the no_pmtud abort of ngtcp2 0.12/1.11)
  SIGUSR2  toggle: from now on everything leaves from B, or from A again
Each event is printed to stdout (one line, flushed): the test waits on them.
"""
import selectors
import signal
import socket
import sys


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def main():
    listen, server = addr(sys.argv[1]), addr(sys.argv[2])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lsock.bind(listen)
    up = []
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 0))
        up.append(s)
    state = {"cur": 0, "blip": False, "client": None}
    sent = [0, 0]

    def on_usr1(*_):
        state["blip"] = True

    def on_usr2(*_):
        state["cur"] ^= 1
        print("port %s (%d)" % ("AB"[state["cur"]], up[state["cur"]].getsockname()[1]),
              flush=True)

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)
    print("ready A=%d B=%d" % (up[0].getsockname()[1], up[1].getsockname()[1]), flush=True)

    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    for i, s in enumerate(up):
        sel.register(s, selectors.EVENT_READ, i)
    while True:
        try:
            events = sel.select()
        except InterruptedError:
            continue
        for key, _ in events:
            sock = key.fileobj
            try:
                data, src = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                continue
            if key.data is None:  # from the client
                state["client"] = src
                i = state["cur"]
                if state["blip"] and data and not data[0] & 0x80:
                    state["blip"] = False
                    i = 1
                    print("blip: one 1-RTT datagram (%d bytes) from B" % len(data), flush=True)
                up[i].sendto(data, server)
                sent[i] += 1
            elif state["client"]:
                lsock.sendto(data, state["client"])


if __name__ == "__main__":
    main()
