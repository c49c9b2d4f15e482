"""gunicorn settings of ``tracker serve``: flush the batch writer when a worker stops."""
import os

graceful_timeout = 15
timeout = 30
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def worker_exit(server, worker):
    """SIGTERM or a restart: write what this worker accepted before it goes."""
    app = getattr(worker, "wsgi", None)
    ingest = getattr(app, "extensions", {}).get("tracker") if app is not None else None
    if ingest is not None:
        ingest.close()
