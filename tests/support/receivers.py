"""Real alert receivers on 127.0.0.1: an HTTP webhook receiver and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """Records every POST; `fail_first` answers 500 to the first N requests (retry tests)."""

    def __init__(self, fail_first: int = 0, delay_s: float = 0.0) -> None:
        self.received: list[tuple[float, str, dict]] = []
        self.headers: list[dict] = []  # per received body, in the same order
        self.fail_first = fail_first
        self.delay_s = delay_s
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real webhook receivers do

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                with outer._lock:
                    if outer.fail_first > 0:
                        outer.fail_first -= 1
                        self.send_response(500)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    outer.received.append((time.time(), self.path, json.loads(body)))
                    outer.headers.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # a real receiver's listen backlog (nginx: 511), not socketserver's 5: with 5 and a loaded
            # test process, 128 posts at once took 4.7 s (SYN retransmits), near the workers' 5 s
            # timeout: posts taken but answered late were retried, and recorded twice
            request_queue_size = 128
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list[dict]:
        with self._lock:
            return [b for _, _, b in self.received]

    def deliveries(self) -> list[tuple[float, dict, dict]]:
        """(received at, headers, body) per POST recorded."""
        with self._lock:
            return [(t, h, b) for (t, _, b), h in zip(self.received, self.headers)]


class SmtpReceiver:
    """aiosmtpd on a free loopback port; `messages` holds (to, subject, headers)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from pipeline.brokers.base import free_port

        self.messages: list[dict] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = message_from_bytes(envelope.content)
                body = msg.get_payload(decode=True) if not msg.is_multipart() else b""
                outer.messages.append({"to": list(envelope.rcpt_tos), "subject": msg["Subject"],
                                       "notification_id": msg.get("X-SalesPulse-Notification-Id"),
                                       "kind": msg.get("X-SalesPulse-Kind"),
                                       "body": (body or b"").decode(errors="replace")})
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpReceiver":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
