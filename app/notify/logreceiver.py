"""A local receiver for the demo: accepts Slack, PagerDuty and webhook posts on
127.0.0.1 and appends each to a JSON-lines log, so the demo delivers for real
without any outside service."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class LogReceiver:
    def __init__(self, log_path: Path, port: int = 0) -> None:
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        lock = threading.Lock()
        path = self.log_path

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                entry = {"received_at": datetime.now(timezone.utc).isoformat(), "channel": self.path.strip("/"),
                         "delivery": self.headers.get("X-Warroom-Delivery"), "body": body}
                with lock, open(path, "a") as fh:
                    fh.write(json.dumps(entry) + "\n")
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="warroom-log-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LogReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
