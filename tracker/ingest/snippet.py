"""The tracking snippet at ``GET /t.js`` and the URL of the email pixel.

The snippet is built from ``js/src/t.js`` into ``js/dist/t.js`` (``npm run build`` in ``js/``;
the built file is committed). It is read once, on the first request, and kept in memory with
its gzipped form: browsers get about 1.5 KB even when no proxy in front compresses.
"""
import gzip
import hashlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, request

from ..errors import ApiError
from ..resources import snippet_path

bp = Blueprint("snippet", __name__)

SNIPPET_PATH = snippet_path()
HEADERS = {
    "Content-Type": "application/javascript; charset=utf-8",
    # An hour fresh, a day more served from cache while it revalidates: a new version reaches
    # every visitor within a day, and no page waits for us.
    "Cache-Control": "public, max-age=3600, stale-while-revalidate=86400",
    "Access-Control-Allow-Origin": "*",
    # Pages with Cross-Origin-Embedder-Policy: require-corp may load it too.
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff",
    "Vary": "Accept-Encoding",
}


class Snippet:
    """The built script, its gzipped form, and an ETag for each."""

    def __init__(self, body):
        self.body = body
        self.gzipped = gzip.compress(body, compresslevel=9, mtime=0)
        digest = hashlib.sha256(body).hexdigest()[:20]
        self.etag = f'"{digest}"'
        self.gzipped_etag = f'"{digest}-gz"'


@lru_cache(maxsize=1)
def load_snippet(path=SNIPPET_PATH):
    """The snippet at ``path``, read once per process."""
    try:
        return Snippet(Path(path).read_bytes())
    except FileNotFoundError:
        raise ApiError(404, f"the snippet is not built: run `npm ci && npm run build` in js/ ({path})") from None


@bp.get("/t.js")
def script():
    """The tracking snippet: cacheable, revalidated by ETag, gzipped when the browser accepts it."""
    snippet = load_snippet()
    if request.accept_encodings.quality("gzip") > 0:
        body, etag, extra = snippet.gzipped, snippet.gzipped_etag, {"Content-Encoding": "gzip"}
    else:
        body, etag, extra = snippet.body, snippet.etag, {}
    headers = dict(HEADERS, ETag=etag, **extra)
    if request.if_none_match.contains(etag.strip('"')):
        return Response(status=304, headers=headers)
    return Response(body, headers=headers)


def pixel_url(base_url, site, uid, campaign=None, source=None, medium=None, name="email_open"):
    """The URL of a 1x1 pixel that records an email open by the known person ``uid``.

    ``BASE/p.gif?site=…&type=email_open&uid=…&utm_source=…&utm_medium=email&utm_campaign=…``:
    the medium defaults to ``email``; a source or campaign left out is not in the URL; a
    ``name`` other than ``email_open`` names the touchpoint (``&name=…``). Put it in an email as
    ``<img src="URL" width="1" height="1" alt="">``, or in a web page's ``<noscript>``.
    """
    params = {"site": site, "type": "email_open", "uid": uid}
    if name and name != "email_open":
        params["name"] = name
    if source:
        params["utm_source"] = source
    params["utm_medium"] = medium or "email"
    if campaign:
        params["utm_campaign"] = campaign
    return f"{base_url.rstrip('/')}/p.gif?{urlencode(params, quote_via=quote)}"
