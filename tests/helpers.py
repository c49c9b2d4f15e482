"""Small helpers shared by tests: sending batches and reading rows back."""
import json

CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def post_batch(client, site, events, vid="v1", ua=CHROME, content_type="text/plain", headers=None, **extra):
    """POST /collect as the snippet does (text/plain JSON); returns the response."""
    body = {"site": site, "events": events, **extra}
    if vid is not None:
        body["vid"] = vid
    return client.post("/collect", data=json.dumps(body), content_type=content_type,
                       headers={"User-Agent": ua, **(headers or {})})


def rows(store, site, where="1", params=None, columns="*"):
    """Rows of ``events`` for a site as dicts, oldest first."""
    return store.query(f"SELECT {columns} FROM events WHERE site = %(site)s AND {where} "
                       f"ORDER BY event_time, event_ms, event_id",
                       {"site": site, **(params or {})}).dicts()


def send(client, site, events, vid=""):
    """Touchpoints through the server-side ingest API (any past time); asserts the 202."""
    response = client.post("/api/v1/touchpoints", json={"site": site["site"], "vid": vid, "events": events},
                           headers={"Authorization": f"Bearer {site['secret']}"})
    assert response.status_code == 202, response.get_data(as_text=True)
