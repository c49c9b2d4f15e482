"""gunicorn settings of ``tracker serve``: flush the batch writer when a worker stops."""
import os

graceful_timeout = 15
timeout = 30
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def worker_exit(server, worker):
    """SIGTERM or a restart: write what this worker accepted before it goes."""
    from tracker import close_app

    app = getattr(worker, "wsgi", None)
    if app is not None and "tracker" in getattr(app, "extensions", {}):
        close_app(app)
