"""A real webhook receiver for the tests: a threading HTTP server on 127.0.0.1 that verifies
every delivery's signature with ``standardwebhooks`` and answers as the test says."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


class Receiver:
    """``answer(delivery) -> (status, headers)`` decides each answer (default 200); every
    request is kept in ``received`` with whether its signature verified with ``secret``."""

    def __init__(self, secret=None):
        self.secret = secret
        self.received = []
        self.answer = lambda delivery: (200, {})
        self._lock = threading.Lock()
        self._server = None
        self.port = 0
        self.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self):
        """Listen (again, on the same port once it had one)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                delivery = {"id": self.headers.get("webhook-id"), "timestamp": self.headers.get("webhook-timestamp"),
                            "body": body, "verified": receiver.verify(body, dict(self.headers)),
                            "data": json.loads(body)}
                status, headers = receiver.answer(delivery)
                delivery["status"] = status
                with receiver._lock:
                    receiver.received.append(delivery)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        """Stop listening: deliveries now fail to connect."""
        self._server.shutdown()
        self._server.server_close()

    def verify(self, body, headers):
        try:
            Webhook(self.secret).verify(body, headers)
            return True
        except Exception:  # a wrong signature, or no secret set yet
            return False

    def ok(self):
        """The deliveries answered 2xx."""
        return [d for d in self.received if 200 <= d["status"] < 300]
