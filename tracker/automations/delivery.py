"""Signed webhook delivery: one POST as the Standard Webhooks specification says, and what
its answer means for the delivery (delivered, try again later, give up, disable).

The signature is PyPI ``standardwebhooks``' (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``); we never compute it
ourselves. The connection goes to the address that ``addresses.resolve`` checked.
"""
import email.utils
import http.client
import socket
import ssl
import time
from datetime import datetime, timezone
from urllib.parse import urlparse

from standardwebhooks.webhooks import Webhook

from ..clock import DAY_MS

from .addresses import AddressRefused, resolve

# Waits after the 1st, 2nd … failed try (about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); after
# the last one the delivery has failed.
BACKOFF_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]
MAX_ATTEMPTS = len(BACKOFF_MS) + 1
TIMEOUT_SECONDS = 10
RETRY_AFTER_MAX_MS = DAY_MS  # a Retry-After longer than a day is read as a day
USER_AGENT = "tracker-webhooks/1"


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to an address checked beforehand (the Host header keeps the name)."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As ``_PinnedHTTP``, with TLS verified against the host name."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def signed_headers(secret, message_id, body, sent_at=None):
    """The Standard Webhooks headers of ``body`` (text) sent now (or at ``sent_at``, seconds)."""
    moment = datetime.fromtimestamp(int(sent_at or time.time()), tz=timezone.utc)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, moment, body),
            "content-type": "application/json", "user-agent": USER_AGENT}


def post(url, secret, message_id, body, allow_private=False, timeout=TIMEOUT_SECONDS):
    """Send one signed delivery. Returns {"code" (0: no answer), "retry_after_ms", "error",
    "duration_ms"}; never raises for a receiver's failure."""
    started = time.monotonic()
    result = {"code": 0, "retry_after_ms": None, "error": ""}
    try:
        parts = urlparse(url)
        address = resolve(url, allow_private)
        kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        connection = kind(parts.hostname, parts.port, address, timeout)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST", path, body=body.encode(), headers=signed_headers(secret, message_id, body))
            response = connection.getresponse()
            response.read(65536)
            result["code"] = response.status
            result["retry_after_ms"] = retry_after_ms(response.getheader("Retry-After"))
            if not 200 <= response.status < 300:
                result["error"] = f"answered {response.status} {response.reason}"[:500]
        finally:
            connection.close()
    except AddressRefused as exc:
        result["error"] = f"refused: {exc}"[:500]
    except (OSError, http.client.HTTPException) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__
    result["duration_ms"] = int((time.monotonic() - started) * 1000)
    return result


def retry_after_ms(value):
    """A Retry-After header (seconds, or an HTTP date) as milliseconds from now, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value) * 1000, RETRY_AFTER_MAX_MS)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, min(int((moment.timestamp() - time.time()) * 1000), RETRY_AFTER_MAX_MS))


def outcome(delivery, result, now_ms):
    """The delivery's next version after an attempt with ``result``, and whether the receiver
    asked for the automation to stop (410 Gone)."""
    attempts = delivery["attempts"] + 1
    updated = dict(delivery, attempts=attempts, last_code=result["code"], last_error=result["error"])
    code = result["code"]
    if 200 <= code < 300:
        updated.update(status="delivered", delivered_ms=now_ms, next_ms=0)
        return updated, False
    if code == 410:
        updated.update(status="failed", next_ms=0, last_error="410 Gone: the automation was disabled")
        return updated, True
    if attempts >= MAX_ATTEMPTS:
        updated.update(status="failed", next_ms=0)
        return updated, False
    wait = BACKOFF_MS[attempts - 1]
    if code == 429 and result.get("retry_after_ms") is not None:
        wait = result["retry_after_ms"]  # the receiver said when
    updated.update(status="pending", next_ms=now_ms + wait)
    return updated, False
