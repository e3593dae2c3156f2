"""Headless Chromium driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: requests on fd 3, replies on fd 4, each a JSON
text ended by a NUL byte), with the standard library only: load a page,
collect what it logs to the console, evaluate expressions, take a
screenshot.  Used by test_viewers.py.  Not a test module.

The flags are the ones this machine's Chromium needs headless and
offline: no sandbox (root), no GPU, no background connections (the
network is closed and refused connections pile up), a fresh profile.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

from common import Skip, _kill_group

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
         "--allow-file-access-from-files", "--remote-debugging-pipe"]


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise Skip("no chromium (bash tests/setup-viewers.sh installs Debian's)")


class Browser:
    def __init__(self, width=1400, height=900, timeout=60):
        self.exe = find_chromium()
        self.dir = tempfile.mkdtemp(prefix="gilsnoop-chromium.")
        self.profile = os.path.join(self.dir, "profile")
        self._log = open(os.path.join(self.dir, "stderr"), "wb")
        self.timeout = timeout
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()

        def child():
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)
        self.proc = subprocess.Popen(
            [self.exe] + FLAGS + ["--user-data-dir=" + self.profile,
                                  "--window-size=%d,%d" % (width, height),
                                  "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._log, close_fds=False, preexec_fn=child,
            start_new_session=True)
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._id = 0
        self.console = []       # (level, text)
        self.exceptions = []
        self.session = None
        targets = self.call("Target.getTargets")["targetInfos"]
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            tid = pages[0]["targetId"]
        else:
            tid = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=tid,
                                 flatten=True)["sessionId"]
        for domain in ("Runtime", "Page", "Log"):
            self.call(domain + ".enable")

    # -- protocol
    def _send(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._to_w, data)
            data = data[n:]

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("chromium did not answer within %ss" % self.timeout)
            r, _, _ = select.select([self._from_r], [], [], left)
            if not r:
                continue
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk:
                raise AssertionError("chromium closed its pipe: %s" % self.log()[-2000:])
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _event(self, msg):
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", "")))
                            for a in p.get("args", []))
            self.console.append((p.get("type", ""), text))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.exceptions.append(d.get("exception", {}).get("description")
                                   or d.get("text", ""))
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            self.console.append((e.get("level", ""), e.get("text", "")))

    def call(self, method, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        self._send(msg)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise AssertionError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self._event(reply)

    def pump(self, seconds):
        """Take events for a while (console messages arrive as events)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if b"\0" not in self._buf:
                r, _, _ = select.select([self._from_r], [], [], left)
                if not r:
                    return
            self._event(self._read_message(time.monotonic() + self.timeout))

    def log(self):
        with open(os.path.join(self.dir, "stderr"), "rb") as f:
            return f.read().decode(errors="replace")

    # -- page
    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def evaluate(self, expr):
        res = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return res.get("result", {}).get("value")

    def wait_for(self, expr, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expr):
                return
            self.pump(0.25)
        raise AssertionError("timed out after %ss waiting for %s; console: %r" % (
            timeout, what, self.console[-10:]))

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    self.session = None
                    self._send({"id": self._id + 1, "method": "Browser.close"})
                    self.proc.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        finally:
            if self.proc.poll() is None:
                _kill_group(self.proc)
            for fd in (self._to_w, self._from_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
