"""The baseline of the pixel benchmark: a bare Flask endpoint returning the same GIF."""
from flask import Flask, Response

from tracker.ingest.views import GIF

app = Flask(__name__)


@app.get("/p.gif")
def pixel():
    """The same bytes and headers as the real pixel, with none of its work."""
    response = Response(GIF, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store, max-age=0"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
