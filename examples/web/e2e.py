#!/usr/bin/env python3
"""The demo page end to end in headless Chromium: serve the page on 127.0.0.1, open it with
?auto=1 (the built-in model, greedy), wait for its outcome, save a screenshot, and compare the
outcome with the native run of the same seeded model.

    e2e.py PAGE_DIR NATIVE.json OUT_DIR

PAGE_DIR holds index.html, main.js and pkg/ (the wasm); NATIVE.json is kiln-web-native's
output; OUT_DIR receives page.png and page.json. Only the standard library: WebDriver is
plain HTTP to chromedriver ($CHROMEDRIVER, else chromedriver on the PATH).
"""
import base64
import functools
import http.server
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

# Runs on the page; the last is compared and timed (the first pays for shader compiles), as
# the native run does.
RUNS = 2
# Prompt logits from SwiftShader against a native adapter: f32 sums in another order.
ATOL, RTOL = 1e-3, 1e-3
CHROME_ARGS = [
    "--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--disable-dev-shm-usage",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--window-size=1100,1400",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())["value"]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main():
    page_dir, native_path, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    native = json.load(open(native_path))

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=page_dir))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = (f"http://127.0.0.1:{server.server_address[1]}/index.html"
            f"?auto=1&runs={RUNS}&max={len(native['tokens'])}")

    port = free_port()
    driver = subprocess.Popen([os.environ.get("CHROMEDRIVER", "chromedriver"), f"--port={port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if call(base, "GET", "/status")["ready"]:
                    break
            except OSError:
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": os.environ.get("CHROME", "/usr/bin/chromium"), "args": CHROME_ARGS}}}}
        sid = call(base, "POST", "/session", caps)["sessionId"]
        try:
            call(base, "POST", f"/session/{sid}/url", {"url": page})
            state, deadline = "pending", time.time() + 600
            while state == "pending" and time.time() < deadline:
                time.sleep(0.5)
                state = call(base, "POST", f"/session/{sid}/execute/sync", {
                    "script": "return document.getElementById('result').dataset.state", "args": []})
            text = call(base, "POST", f"/session/{sid}/execute/sync", {
                "script": "return document.getElementById('result').textContent", "args": []})
            status = call(base, "POST", f"/session/{sid}/execute/sync", {
                "script": "return document.getElementById('status').textContent", "args": []})
            png = base64.b64decode(call(base, "GET", f"/session/{sid}/screenshot"))
            open(os.path.join(out_dir, "page.png"), "wb").write(png)
            open(os.path.join(out_dir, "page.json"), "w").write(text or "")
        finally:
            call(base, "DELETE", f"/session/{sid}")
    finally:
        driver.terminate()
        server.shutdown()

    if state != "done":
        sys.exit(f"e2e: the page did not finish ({state}): {status}: {text}")
    web = json.loads(text)
    print(f"e2e: page on {web['device']}: prefill {web['prefill_rate']:.1f} tokens/s, "
          f"decode {web['decode_rate']:.1f} tokens/s, compile {web['compile_s']:.2f} s, "
          f"load {web['load_s']:.2f} s")
    print(f"e2e: native on {native['device']}: prefill {native['prefill_rate']:.1f} tokens/s, "
          f"decode {native['decode_rate']:.1f} tokens/s, compile {native['compile_s']:.2f} s, "
          f"load {native['load_s']:.2f} s")
    if "BrowserWebGpu" not in web["device"]:
        sys.exit(f"e2e: the page did not run on WebGPU: {web['device']}")
    for key in ["model", "prompt_tokens", "decode_kernels"]:
        if web[key] != native[key]:
            sys.exit(f"e2e: {key} differs: page {web[key]!r}, native {native[key]!r}")
    a, b = web["prompt_logits"], native["prompt_logits"]
    if len(a) != len(b):
        sys.exit(f"e2e: {len(a)} logits on the page, {len(b)} natively")
    worst = max(abs(x - y) - (ATOL + RTOL * abs(y)) for x, y in zip(a, b))
    if not worst <= 0 or any(math.isnan(x) for x in a):
        sys.exit(f"e2e: prompt logits differ beyond atol {ATOL} + rtol {RTOL} (by {worst})")
    if web["tokens"] != native["tokens"] or web["text"] != native["text"]:
        sys.exit(f"e2e: greedy tokens differ: page {web['tokens']}, native {native['tokens']}")
    print(f"e2e: the page's {len(a)} prompt logits and {len(web['tokens'])} greedy tokens "
          f"match the native run; screenshot in {out_dir}/page.png")


if __name__ == "__main__":
    main()
