"""gunicorn settings of ``tracker serve``: the metrics' multiprocess folder, and a worker that
stops flushes its batch writer."""
import os
import shutil
import tempfile

graceful_timeout = 15
timeout = 30
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client when a worker imports it
_made_here = []


def on_starting(server):
    """Give the workers a clean metrics folder (counts of an earlier run must not add up with
    ours): an operator's ``PROMETHEUS_MULTIPROC_DIR`` emptied, else a temporary one."""
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.unlink(os.path.join(folder, name))
    else:
        folder = tempfile.mkdtemp(prefix="tracker-metrics-")
        _made_here.append(folder)
        os.environ[MULTIPROC_ENV] = folder


def when_ready(server):
    """Serve /metrics from the master on TRACKER_METRICS_BIND, when set (no token needed there)."""
    from tracker.settings import load_settings

    bind = load_settings()["metrics_bind"]
    if bind:
        from prometheus_client import start_http_server

        from tracker.metrics import registry

        host, port = bind.rsplit(":", 1)
        start_http_server(int(port), addr=host, registry=registry())
        server.log.info("metrics on http://%s/metrics", bind)


def child_exit(server, worker):
    """A worker is gone (stopped, or killed): its live gauges no longer count; its counters stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    for folder in _made_here:
        shutil.rmtree(folder, ignore_errors=True)


def worker_exit(server, worker):
    """SIGTERM or a restart: write what this worker accepted before it goes."""
    from tracker import close_app

    app = getattr(worker, "wsgi", None)
    if app is not None and "tracker" in getattr(app, "extensions", {}):
        close_app(app)
