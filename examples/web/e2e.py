#!/usr/bin/env python3
"""The demo page end to end in headless Chromium, against the native run of the same models.

    e2e.py PAGE_DIR OUT_DIR NATIVE.json [MODEL.gguf NATIVE_MODEL.json]

Serves PAGE_DIR (index.html, main.js, pkg/) on 127.0.0.1 and opens the page with ?auto=1: it
runs the built-in model greedily, twice (the second run is compared and timed; the first pays
for the browser's shader compiles). Then, where MODEL.gguf is given, picks that file in the
page's file input, as a user would, and generates from it. Each outcome must match the
native run's (NATIVE.json, NATIVE_MODEL.json: kiln-web's `Outcome`): the same prompt tokens,
prompt logits within a tolerance, the same greedy tokens and text. OUT_DIR receives page.png
and the page's outcomes. Only the standard library: WebDriver is plain HTTP to chromedriver
($CHROMEDRIVER, else chromedriver on the PATH; $CHROME, else /usr/bin/chromium).
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

# Runs of the built-in model on the page; the last is compared and timed, as natively.
RUNS = 2
# Prompt logits from SwiftShader against a native adapter: f32 sums in another order.
ATOL, RTOL = 1e-3, 1e-3
CHROME_ARGS = [
    "--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--disable-dev-shm-usage",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--window-size=1100,1400",
]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


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


class Page:
    """One WebDriver session on the page."""

    def __init__(self, base, sid):
        self.base, self.sid = base, sid

    def js(self, script):
        return call(self.base, "POST", f"/session/{self.sid}/execute/sync",
                    {"script": script, "args": []})

    def element(self, css):
        e = call(self.base, "POST", f"/session/{self.sid}/element",
                 {"using": "css selector", "value": css})
        return e[ELEMENT]

    def wait(self, script, what, seconds=600):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.js(script):
                return
            time.sleep(0.5)
        fail(f"the page did not {what} in {seconds} s: {self.js(STATUS)}")

    def screenshot(self, path):
        png = base64.b64decode(call(self.base, "GET", f"/session/{self.sid}/screenshot"))
        open(path, "wb").write(png)


STATUS = "return document.getElementById('status').textContent"
RESULT = "return document.getElementById('result')"


def fail(msg):
    sys.exit(f"e2e: {msg}")


def outcome(page, out_dir, name):
    """The page's last outcome (failing on its error), saved as OUT_DIR/name."""
    state = page.js(RESULT + ".dataset.state")
    text = page.js(RESULT + ".textContent")
    open(os.path.join(out_dir, name), "w").write(text or "")
    if state != "done":
        fail(f"the page ended in state {state}: {page.js(STATUS)}: {text}")
    return json.loads(text)


def compare(what, web, native):
    if "BrowserWebGpu" not in web["device"]:
        fail(f"{what}: the page did not run on WebGPU: {web['device']}")
    for key in ["model", "prompt_tokens", "decode_kernels"]:
        if web[key] != native[key]:
            fail(f"{what}: {key} differs: page {web[key]!r}, native {native[key]!r}")
    a, b = web["prompt_logits"], native["prompt_logits"]
    if len(a) != len(b):
        fail(f"{what}: {len(a)} logits on the page, {len(b)} natively")
    worst = max(abs(x - y) - (ATOL + RTOL * abs(y)) for x, y in zip(a, b))
    if not worst <= 0 or any(math.isnan(x) for x in a):
        fail(f"{what}: prompt logits differ beyond atol {ATOL} + rtol {RTOL} (by {worst})")
    if web["tokens"] != native["tokens"] or web["text"] != native["text"]:
        fail(f"{what}: greedy tokens differ: page {web['tokens']}, native {native['tokens']}")
    for side, o in [("page", web), ("native", native)]:
        print(f"e2e: {what}, {side} on {o['device']}: prefill {o['prefill_rate']:.1f} tokens/s, "
              f"decode {o['decode_rate']:.2f} tokens/s, compile {o['compile_s']:.2f} s, "
              f"load {o['load_s']:.2f} s, {o['decode_kernels']} kernels a decode step")
    print(f"e2e: {what}: {len(a)} prompt logits and {len(web['tokens'])} greedy tokens "
          f"match the native run")


def main():
    if len(sys.argv) not in (4, 6):
        fail(__doc__)
    page_dir, out_dir, native_path = sys.argv[1:4]
    model = sys.argv[4:6]
    os.makedirs(out_dir, exist_ok=True)
    native = json.load(open(native_path))

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=page_dir))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = (f"http://127.0.0.1:{server.server_address[1]}/index.html"
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
        page = Page(base, call(base, "POST", "/session", caps)["sessionId"])
        try:
            call(base, "POST", f"/session/{page.sid}/url", {"url": url})
            page.wait("return document.body.dataset.auto === 'done' || "
                      "document.getElementById('result').dataset.state === 'error'",
                      "run the built-in model")
            page.screenshot(os.path.join(out_dir, "page.png"))
            compare("built-in model", outcome(page, out_dir, "page.json"), native)
            if model:
                gguf, native_model = os.path.abspath(model[0]), json.load(open(model[1]))
                page.js("document.getElementById('status').textContent = 'picking a file'")
                call(base, "POST", f"/session/{page.sid}/element/{page.element('#file')}/value",
                     {"text": gguf})
                page.wait(STATUS + ".startsWith('loaded') || "
                          "document.getElementById('result').dataset.state === 'error'",
                          "load the file")
                call(base, "POST", f"/session/{page.sid}/element/{page.element('#run')}/click", {})
                page.wait(RESULT + ".dataset.state !== 'running'", "generate from the file")
                page.screenshot(os.path.join(out_dir, "page-file.png"))
                compare(f"file {os.path.basename(gguf)}",
                        outcome(page, out_dir, "page-file.json"), native_model)
        finally:
            call(base, "DELETE", f"/session/{page.sid}")
    finally:
        driver.terminate()
        server.shutdown()
    print(f"e2e: screenshots in {out_dir}")


if __name__ == "__main__":
    main()
