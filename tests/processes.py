"""Real processes for tests: a ClickHouse server of a test's own, gunicorn, the tracker command."""
import os
import socket
import subprocess
import sys
import tempfile
import time

import requests

from conftest import ROOT


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnClickHouse:
    """A ClickHouse server on ports of its own, which a test may stop and start."""

    def __init__(self, home):
        self.env = dict(os.environ, CH_HOME=str(home), CH_PORT=str(free_port()), CH_HTTP_PORT=str(free_port()))
        self.url = f"clickhouse://default@127.0.0.1:{self.env['CH_PORT']}"

    def _run(self, action):
        subprocess.run([str(ROOT / "scripts" / "clickhouse-server.sh"), action], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def start(self):
        self._run("start")

    def stop(self):
        self._run("stop")


class Gunicorn:
    """The app under gunicorn in its own process group, as `tracker serve` runs it."""

    def __init__(self, env, workers=1):
        self.env, self.port, self.process, self.workers = env, free_port(), None, workers
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self):
        # Its log to a file: a pipe nobody reads fills up, and then every worker blocks on a log line.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--threads", "4", "--bind", f"127.0.0.1:{self.port}",
             "--config", "python:tracker.gunicorn_conf", "wsgi:app"],
            cwd=ROOT, env=self.env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/healthz", timeout=5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.log.seek(0)
        raise AssertionError("gunicorn did not come up: " + self.log.read()[-4000:].decode(errors="replace"))

    def stop(self, sig):
        os.killpg(self.process.pid, sig)
        self.process.wait(30)


def tracker_cli(env, *args):
    result = subprocess.run([sys.executable, "-m", "tracker", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    return result.stdout


