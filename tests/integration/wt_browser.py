#!/usr/bin/python3
"""Drive headless Chromium over the DevTools protocol: open the web player
(web/player) against a relay, poll its figures (window.moqStats) until it
reports done or failed, save a screenshot, print the figures as JSON.

  wt_browser.py PAGE_URL SCREENSHOT.png TIMEOUT_S

Exit 0 when the page reached state "done", 1 otherwise (the JSON says why).
Uses Debian's python3-websocket; Chromium runs with its own temporary
profile and is killed at the end."""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def main():
    # SIGTERM (the demo's cleanup) ends us through the finally below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    page, shot, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    prof = tempfile.mkdtemp(prefix="moq-chromium.")
    cmd = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
           "--no-first-run", "--no-default-browser-check", "--mute-audio",
           "--disable-extensions", "--disable-background-networking", "--disable-sync",
           "--disable-component-update", "--disable-default-apps",
           "--user-data-dir=" + prof, "--remote-debugging-port=0",
           "--window-size=900,800", "about:blank"]
    # its own process group: the zygote, GPU and renderer processes go too
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        port = None
        t0 = time.time()
        while time.time() - t0 < 20 and port is None:
            try:
                with open(os.path.join(prof, "DevToolsActivePort")) as f:
                    port = int(f.readline())
            except (OSError, ValueError):
                time.sleep(0.1)
        if port is None:
            raise RuntimeError("chromium did not open its DevTools port")
        targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port))
        ws_url = [t for t in targets if t["type"] == "page"][0]["webSocketDebuggerUrl"]
        ws = websocket.create_connection(ws_url, timeout=10)
        ids = [0]

        def call(method, **params):
            ids[0] += 1
            ws.send(json.dumps({"id": ids[0], "method": method, "params": params}))
            while True:
                m = json.loads(ws.recv())
                if m.get("id") == ids[0]:
                    if "error" in m:
                        raise RuntimeError("%s: %s" % (method, m["error"]))
                    return m.get("result", {})

        call("Page.enable")
        call("Page.navigate", url=page)
        stats = {}
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = call("Runtime.evaluate", expression="JSON.stringify(window.moqStats || null)",
                     returnByValue=True)
            v = r.get("result", {}).get("value")
            if v and v != "null":
                stats = json.loads(v)
                if stats.get("state") in ("done", "failed"):
                    break
            time.sleep(0.25)
        else:
            stats.setdefault("error", "timeout after %.0f s" % timeout)
        img = call("Page.captureScreenshot", format="png")
        with open(shot, "wb") as f:
            f.write(base64.b64decode(img["data"]))
        ws.close()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        shutil.rmtree(prof, ignore_errors=True)
    print(json.dumps(stats))
    return 0 if stats.get("state") == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
