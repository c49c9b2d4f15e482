"""What a view reaches through the app serving it (``create_app`` puts it in ``app.extensions``)."""
from flask import current_app


def store():
    """The storage backend of the app serving this request."""
    return current_app.extensions["store"]
