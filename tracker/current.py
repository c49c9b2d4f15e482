"""What a view reaches through the app serving it (``create_app`` puts it in ``app.extensions``)."""
from flask import current_app


def store():
    """The storage backend of the app serving this request."""
    return current_app.extensions["store"]


def query_pool():
    """The threads that run a page's independent queries together (overview, funnel comparison)."""
    return current_app.extensions["query_pool"]
