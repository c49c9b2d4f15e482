"""Several app nodes on the two-shard cluster, as deploy/nginx.conf runs them: two gunicorn nodes
(TRACKER_JOURNEY_WORKER=0) behind Debian's nginx and one `tracker worker`. A login made on one
node holds on the other, cookieless visitors get one id whichever node hears them (one salt),
touchpoints sent through nginx are all stored once, and both nodes read the worker's state."""
import json
import os
import re
import signal
import string
import subprocess
import time
import uuid

import pytest
import requests

from conftest import ROOT, new_database
from helpers import CHROME
from processes import Gunicorn, free_port, tracker_cli

pytestmark = pytest.mark.slow

JOURNEY = {"name": "Buy", "window_days": 7, "stall_after_days": 3,
           "stages": [{"name": "Visit", "match": {"type": "pageview"}}, {"name": "Buy", "match": {"name": "buy"}}]}


def render_nginx(run_dir, listen, nodes):
    """deploy/nginx.conf with its ${…} names filled in; the path of the result."""
    template = string.Template((ROOT / "deploy" / "nginx.conf").read_text())
    text = template.safe_substitute(RUN_DIR=run_dir, LISTEN=listen, NODE_1=nodes[0], NODE_2=nodes[1])
    path = run_dir / "nginx.conf"
    path.write_text(text)
    return path


class Nginx:
    """Debian's nginx with deploy/nginx.conf in front of ``nodes``."""

    def __init__(self, run_dir, nodes):
        subprocess.run([str(ROOT / "scripts" / "system-packages.sh"), "nginx"], check=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = render_nginx(run_dir, f"127.0.0.1:{self.port}", nodes)
        self.process = None

    def start(self):
        self.process = subprocess.Popen(["nginx", "-c", str(self.config), "-g", "daemon off;"],
                                        stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                requests.get(self.base + "/healthz", timeout=2)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError("nginx did not come up: " + self.process.stderr.read(2000).decode())

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def deployment(clickhouse_cluster, tmp_path):
    """Two nodes, nginx, one worker on a fresh cluster database: {"env", "nodes", "proxy"}."""
    database = new_database()
    env = dict(os.environ, TRACKER_CLICKHOUSE_URL=f"{clickhouse_cluster}/{database}",
               TRACKER_CLICKHOUSE_CLUSTER="tracker", TRACKER_JOURNEY_WORKER="0", TRACKER_TRUST_PROXY="1",
               TRACKER_FLUSH_SECONDS="0.2")
    tracker_cli(env, "migrate")
    nodes = [Gunicorn(dict(env, TRACKER_DATA_DIR=str(tmp_path / f"node{i}"))) for i in (1, 2)]
    for node in nodes:
        node.start()
    proxy = Nginx(tmp_path / "nginx", [f"127.0.0.1:{node.port}" for node in nodes]).start()
    worker = subprocess.Popen([os.sys.executable, "-m", "tracker", "worker"], cwd=ROOT,
                              env=dict(env, TRACKER_DATA_DIR=str(tmp_path / "worker")),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield {"env": env, "nodes": nodes, "proxy": proxy}
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    proxy.stop()
    for node in nodes:
        node.stop(signal.SIGTERM)
    for port in ("29101", "29102"):
        subprocess.run(["clickhouse-client", "--port", port, "-q", f"DROP DATABASE IF EXISTS {database}"], check=True)


def login(base, email, password):
    session = requests.Session()
    page = session.get(base + "/dashboard/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = session.post(base + "/dashboard/login", data={"email": email, "password": password, "csrf_token": csrf},
                            allow_redirects=False)
    assert response.status_code == 302
    return session


def test_two_nodes_behind_nginx_and_one_worker(deployment):
    env, nodes, proxy = deployment["env"], deployment["nodes"], deployment["proxy"]
    site = json.loads(tracker_cli(env, "site", "create", "--name", "Nodes", "--domain", "example.com", "--json"))["site"]
    token = json.loads(tracker_cli(env, "token", "create", "--json"))["token"]
    email = f"ann-{uuid.uuid4().hex[:6]}@example.com"
    tracker_cli(env, "user", "create", "--email", email, "--password", "a long enough password", "--site", site)

    # A login made on node 1 is good on node 2: one session key for all.
    session = login(nodes[0].base, email, "a long enough password")
    assert session.get(f"{nodes[1].base}/dashboard/{site}/", allow_redirects=False).status_code == 200

    # A cookieless visitor (no vid) is one visitor on either node: one salt for all.
    for node in nodes:
        response = requests.post(node.base + "/collect", data=json.dumps({"site": site, "events": [
            {"type": "pageview", "url": "https://example.com/", "eid": uuid.uuid4().hex}]}),
            headers={"User-Agent": CHROME, "X-Forwarded-For": "203.0.113.9"})
        assert response.status_code == 202

    # Touchpoints through nginx, spread over both nodes: each stored once.
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.put(f"{proxy.base}/api/v1/sites/{site}/journeys/buy", json=JOURNEY, headers=auth).ok
    sent = []
    with requests.Session() as client:
        for i in range(60):
            eids = [uuid.uuid4().hex, uuid.uuid4().hex]
            events = [{"type": "pageview", "url": "https://example.com/", "eid": eids[0]}]
            if i % 3 == 0:
                events.append({"type": "event", "name": "buy", "eid": eids[1]})
            response = client.post(proxy.base + "/collect", data=json.dumps({"site": site, "vid": f"v{i}",
                                                                             "events": events}),
                                   headers={"User-Agent": CHROME})
            assert response.status_code == 202
            sent += eids[:len(events)]

    def stored():
        rows = tracker_cli(env, "sql", f"SELECT event_id, visitor_id FROM events WHERE site = '{site}'")
        return [json.loads(line) for line in rows.splitlines()]

    deadline = time.monotonic() + 30
    while len(stored()) < len(sent) + 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    rows = stored()
    assert sorted(r["event_id"] for r in rows if r["visitor_id"].startswith("v")) == sorted(sent)
    cookieless = {r["visitor_id"] for r in rows if not r["visitor_id"].startswith("v")}
    assert len(cookieless) == 1

    # The one worker keeps state; both nodes read it and agree.
    funnels = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        funnels = [requests.get(f"{node.base}/api/v1/sites/{site}/journeys/buy/funnel?from=2000-01-01&to=2100-01-01",
                                headers=auth).json() for node in nodes]
        if all(f.get("source") == "state" and f["people"] == 61 for f in funnels):
            break
        time.sleep(1)
    assert [f["stages"][1]["reached"] for f in funnels] == [20, 20], funnels
    status = json.loads(tracker_cli(env, "worker", "--status"))
    assert status["watermark"] and not status["stale"]
