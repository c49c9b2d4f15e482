"""The demo's webhook receiver: what a marketing tool would be, in a few lines. It listens on
127.0.0.1 only, checks each delivery's signature with ``standardwebhooks`` (the secrets of the
demo's automations are in ``webhook-secrets.json`` of the demo folder) and writes a line per
delivery to ``webhooks.log`` there, and to its output.

    python -m tracker.demo.receiver --dir data/demo [--port 8025]
"""
import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook

SECRETS_FILE = "webhook-secrets.json"
LOG_FILE = "webhooks.log"
PORT = 8025


def verified_by(folder, body, headers):
    """The name of the demo automation whose secret signed this delivery, or None."""
    path = Path(folder) / SECRETS_FILE
    known = json.loads(path.read_text()) if path.exists() else {}
    for name, secret in known.items():
        try:
            Webhook(secret).verify(body, headers)
            return name
        except Exception:  # another automation's secret, or a bad signature
            continue
    return None


def describe(body):
    """A delivery in one line: what happened to whom, in which journey."""
    data = body.get("data", {})
    person = data.get("person", {})
    who = person.get("traits", {}).get("email") or person.get("id", "?")
    stage = (data.get("to_stage") or {}).get("name") or ""
    return f"{body.get('type', '?'):22} {who:40} {data.get('journey', {}).get('name', '')} · {stage}"


def handler(folder, log):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            signer = verified_by(folder, raw, dict(self.headers))
            try:
                line = describe(json.loads(raw))
            except ValueError:
                line = "(not JSON)"
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            entry = (f"{stamp}  {self.path:20} {self.headers.get('webhook-id', '-'):30} "
                     f"{'signed by ' + signer if signer else 'SIGNATURE NOT VERIFIED':40} {line}")
            print(entry, flush=True)
            with log.open("a") as out:
                out.write(entry + "\n")
            self.send_response(204 if signer else 401)
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="data/demo", help="the demo folder (secrets in, log out)")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(folder, folder / LOG_FILE))
    print(f"demo webhook receiver on http://127.0.0.1:{args.port}/, logging to {folder / LOG_FILE}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
