"""A real HTTP receiver on 127.0.0.1 that checks payload shapes and misbehaves on demand."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def check_shape(path: str, body: dict) -> str | None:
    """None when the body has the channel's documented shape, else what is wrong."""
    if path == "/slack":
        if not isinstance(body.get("text"), str) or not isinstance(body.get("blocks"), list) or not body["blocks"]:
            return "slack: needs text and blocks"
        if any("type" not in b for b in body["blocks"]):
            return "slack: every block needs a type"
    elif path == "/pd":
        if body.get("event_action") not in ("trigger", "acknowledge", "resolve"):
            return "pagerduty: bad event_action"
        if not body.get("routing_key") or not body.get("dedup_key"):
            return "pagerduty: routing_key and dedup_key are required"
        if body["event_action"] == "trigger":
            p = body.get("payload", {})
            if not (p.get("summary") and p.get("source") and p.get("severity") in ("critical", "error", "warning", "info")):
                return "pagerduty: trigger needs payload.summary, source and a valid severity"
    elif path == "/am":
        if body.get("version") != "4" or body.get("status") not in ("firing", "resolved"):
            return "alertmanager: version 4 and status"
        for a in body.get("alerts", []):
            if not {"status", "labels", "annotations", "startsAt", "endsAt", "fingerprint"} <= set(a):
                return "alertmanager: alert fields"
    else:
        return f"unknown path {path}"
    return None


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.mode = "ok"  # ok | fail | throttle | stall
        self.received: list[dict] = []
        self.rejected: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n) or b"{}")
                mode = outer.mode
                if mode == "stall":
                    time.sleep(3)
                if mode == "fail":
                    self.send_response(503)
                    self.end_headers()
                    return
                if mode == "throttle":
                    self.send_response(429)
                    self.send_header("Retry-After", "7")
                    self.end_headers()
                    return
                problem = check_shape(self.path, body)
                with outer.lock:
                    if problem:
                        outer.rejected.append(problem)
                    else:
                        outer.received.append({"path": self.path, "delivery": self.headers.get("X-Warroom-Delivery"),
                                               "body": body})
                self.send_response(400 if problem else 200)
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
