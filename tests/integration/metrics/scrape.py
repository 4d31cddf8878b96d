#!/usr/bin/env python3
"""Minimal HTTP GET for the metrics tests (instead of curl):

  scrape.py URL [-o BODY_FILE] [-D HEADER_FILE] [-H 'Name: value']... [-t SECONDS]

Prints the status code on stdout (any status, like curl -w '%{http_code}');
exit 1 when no HTTP response came (connection refused, timeout)."""
import argparse
import http.client
import sys
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("-o")
    ap.add_argument("-D")
    ap.add_argument("-H", action="append", default=[])
    ap.add_argument("-t", type=float, default=3.0)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    try:
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=a.t)
        c.putrequest("GET", (u.path or "/") + ("?" + u.query if u.query else ""))
        for h in a.H:
            k, v = h.split(":", 1)
            c.putheader(k.strip(), v.strip())
        c.endheaders()
        r = c.getresponse()
        body = r.read()
    except (OSError, http.client.HTTPException) as e:
        print(f"scrape: {a.url}: {e}", file=sys.stderr)
        return 1
    if a.D:
        with open(a.D, "w") as f:
            f.write(f"HTTP/1.{r.version % 10} {r.status} {r.reason}\n")
            for k, v in r.getheaders():
                f.write(f"{k}: {v}\n")
    if a.o:
        with open(a.o, "wb") as f:
            f.write(body)
    print(r.status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
