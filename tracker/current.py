"""What a view reaches through the app serving it (``create_app`` puts it in ``app.extensions``)."""
from flask import current_app, request


def store():
    """The storage backend of the app serving this request."""
    return current_app.extensions["store"]


def query_pool():
    """The threads that run a page's independent queries together (overview, funnel comparison)."""
    return current_app.extensions["query_pool"]


def client_address():
    """The client's address: the peer's, or behind a proxy we run (TRACKER_TRUST_PROXY) the first
    of X-Forwarded-For."""
    if current_app.config["TRACKER"]["trust_proxy"]:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.remote_addr or ""
