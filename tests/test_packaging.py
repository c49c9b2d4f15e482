"""`pip install .` gives a working service: a wheel built from the checkout, installed into a
fresh virtual environment and served from a folder outside the checkout, applies its
migrations and serves the snippet and the dashboards with their CSS."""
import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=180, **kwargs)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with only the wheel of this checkout installed (its dependencies are
    those of the test environment, reached through a .pth file: offline and quick)."""
    root = tmp_path_factory.mktemp("packaging")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(ROOT), "-w", str(root / "wheels"))
    [wheel] = (root / "wheels").glob("tracker-*.whl")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    site_packages = Path(run(str(venv / "bin" / "python"), "-c",
                             "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # A path line, not a site dir: the test environment's own .pth files (among them the
    # editable install of this checkout) are not run, so `tracker` can only be the wheel's.
    (site_packages / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-deps",
        str(wheel))
    outside = root / "elsewhere"  # the working directory: nothing of the checkout is importable from it
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "PYTHON"))}
    env.update(TRACKER_DATA_DIR=str(root / "data"), TRACKER_CLICKHOUSE_URL="")
    return {"bin": venv / "bin", "site_packages": site_packages, "cwd": outside, "env": env}


def test_the_package_is_the_wheel_not_the_checkout(installed):
    where = run(str(installed["bin"] / "python"), "-c", "import tracker; print(tracker.__file__)",
                cwd=installed["cwd"], env=installed["env"]).stdout.strip()
    assert where.startswith(str(installed["site_packages"]))


def test_migrate_finds_the_migrations(installed):
    out = run(str(installed["bin"] / "tracker"), "migrate", cwd=installed["cwd"], env=installed["env"]).stdout
    assert out.startswith("applied: 0001_events.sql, 0002_")


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers.get_content_type(), response.read().decode()


def test_serve_answers_the_snippet_and_the_dashboards(installed):
    base = f"http://127.0.0.1:{free_port()}"
    server = subprocess.Popen([str(installed["bin"] / "tracker"), "serve", "--bind", base[7:], "--workers", "1"],
                              cwd=installed["cwd"], env=installed["env"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, body = get(base + "/healthz")
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "tracker serve did not answer within 60 s"
                time.sleep(0.3)
        assert status == 200 and '"ok":true' in body.replace(" ", "")
        status, kind, body = get(base + "/t.js")
        assert (status, kind) == (200, "application/javascript") and "sendBeacon" in body
        status, kind, page = get(base + "/dashboard/login")
        assert (status, kind) == (200, "text/html") and 'name="password"' in page
        css = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
        status, kind, _ = get(base + css)
        assert (status, kind) == (200, "text/css")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
