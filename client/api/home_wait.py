"""The page the desktop client shows while another process holds its data folder.

The client must not open the data while the command line (or a first desktop client)
writes it, yet the operator must see why nothing opens. Before any service exists, a
tiny standard-library server on 127.0.0.1 serves one page: who holds the folder (program,
process, since when), that the client opens by itself once the folder is free, and a
退出 button. The page polls ``state``; when the real UI server is up the page moves on
to its launch URL. Every path carries a random token, so other local pages cannot read
the launch URL or press 退出; the Host header is checked against DNS rebinding.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from client.core import home_lock

RETRY_S = 0.5


def holder_text(home: Path) -> str:
    """The Chinese sentence naming who holds ``home`` and what the client will do."""
    who = home_lock.holder(home)
    detail = f"（进程 {who.pid}，开始于 {who.since}）" if who and who.pid else ""
    if who and who.program == home_lock.CLI:
        return f"命令行正在处理本机数据{detail}，完成后将自动打开。"
    if who and who.program == home_lock.DESKTOP:
        return (f"本机已有一个客户端程序在使用这些数据{detail}。请切换到已打开的窗口；"
                f"它退出后此窗口将自动打开。")
    return f"另一个 socialfee 进程正在使用本机数据{detail}，它结束后将自动打开。"


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>socialfee 单位社保费管理客户端</title>
<style nonce="{nonce}">
body {{ font-family: "Microsoft YaHei", "PingFang SC", sans-serif; background: #f4f6f9; margin: 0; }}
main {{ max-width: 560px; margin: 12vh auto; background: #fff; border: 1px solid #d9dee6;
  border-radius: 6px; padding: 28px 32px; }}
h1 {{ font-size: 20px; margin: 0 0 16px; }}
p {{ line-height: 1.7; }}
#wait-error {{ color: #b42318; }}
button {{ padding: 6px 20px; font-size: 15px; }}
</style></head>
<body><main id="home-wait">
<h1>正在等待数据目录</h1>
<p id="wait-holder">{holder}</p>
<p class="muted">数据目录：{home}</p>
<p id="wait-error" hidden></p>
<form method="post" action="/{token}/quit"><button type="submit" id="wait-quit">退出</button></form>
</main>
<script nonce="{nonce}">
(function () {{
  function poll() {{
    fetch("/{token}/state", {{cache: "no-store"}}).then(function (r) {{ return r.json(); }})
      .then(function (s) {{
        if (s.state === "ready") {{ window.location.replace(s.url); return; }}
        if (s.state === "error") {{
          var e = document.getElementById("wait-error"); e.textContent = s.message; e.hidden = false; return;
        }}
        if (s.state === "quit") {{ document.getElementById("wait-holder").textContent = "已退出。"; return; }}
        document.getElementById("wait-holder").textContent = s.holder;
        setTimeout(poll, 1000);
      }}).catch(function () {{ setTimeout(poll, 1000); }});
  }}
  setTimeout(poll, 1000);
}})();
</script></body></html>
"""


class WaitPage:
    """Serves the waiting page and waits, with it, for the folder's lock."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.token = secrets.token_urlsafe(24)
        self._nonce = secrets.token_urlsafe(16)
        self._quit = threading.Event()
        self._lock = threading.Lock()
        self._state: dict[str, str] = {"state": "waiting"}
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="home-wait", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    @property
    def quit_requested(self) -> bool:
        return self._quit.is_set()

    def start(self) -> WaitPage:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._quit.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def quit(self) -> None:
        self._quit.set()
        self._set({"state": "quit"})

    def wait_for_lock(self) -> home_lock.HomeLock | None:
        """Block until the folder's lock is ours; None once 退出 is pressed or ``quit`` called."""
        while not self._quit.is_set():
            held = home_lock.try_hold(self.home, home_lock.DESKTOP)
            if held is not None:
                if self._quit.is_set():  # quit meanwhile: do not keep a folder nobody uses
                    held.release()
                    return None
                return held
            self._quit.wait(RETRY_S)
        return None

    def ready(self, url: str) -> None:
        self._set({"state": "ready", "url": url})

    def failed(self, message: str) -> None:
        self._set({"state": "error", "message": message})

    def state(self) -> dict[str, str]:
        with self._lock:
            state = dict(self._state)
        if state["state"] == "waiting":
            state["holder"] = holder_text(self.home)
        return state

    def page(self) -> str:
        return _PAGE.format(nonce=self._nonce, token=self.token, holder=html.escape(holder_text(self.home)),
                            home=html.escape(str(self.home)))

    def _set(self, state: dict[str, str]) -> None:
        with self._lock:
            if self._state["state"] != "quit":
                self._state = state

    def csp(self) -> str:
        return (f"default-src 'none'; script-src 'nonce-{self._nonce}'; style-src 'nonce-{self._nonce}'; "
                f"connect-src 'self'; form-action 'self'; frame-ancestors 'none'")


def _handler(page: WaitPage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
            pass  # no access log: the path carries the token

        def _allowed(self) -> str | None:
            hosts = {f"127.0.0.1:{page.port}", f"localhost:{page.port}"}
            prefix = f"/{page.token}/"
            if self.headers.get("Host") not in hosts or not self.path.startswith(prefix):
                self._send(404, "text/plain", b"not found")
                return None
            return self.path[len(prefix):].split("?")[0]

        def _send(self, status: int, mime: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{mime}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", page.csp())
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            rest = self._allowed()
            if rest == "":
                self._send(200, "text/html", page.page().encode("utf-8"))
            elif rest == "state":
                self._send(200, "application/json", json.dumps(page.state(), ensure_ascii=False).encode("utf-8"))
            elif rest is not None:
                self._send(404, "text/plain", b"not found")

        def do_POST(self) -> None:  # noqa: N802 (stdlib name)
            rest = self._allowed()
            if rest == "quit":
                self._send(200, "text/html", "<!doctype html><meta charset='utf-8'><p>已退出。</p>".encode())
                self.wfile.flush()
                page.quit()  # after the answer: the process may end right away
            elif rest is not None:
                self._send(404, "text/plain", b"not found")

    return Handler
