"""Sites and API tokens, kept in ClickHouse. Secrets and tokens are stored only as hashes.

A token's sites are a list of site keys, ``["*"]`` for every site; an empty list is none (as
for dashboard users).
"""
import hashlib
import secrets
import time

SITE_COLUMNS = ["site_key", "name", "domains", "secret_hash", "created_at", "deleted", "version", "retention_months"]
TOKEN_COLUMNS = ["token_hash", "name", "sites", "created_at", "revoked", "version"]
ALL_SITES = "*"


def digest(secret):
    """SHA-256 of a secret or token: what we store and compare."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _version():
    return time.time_ns()


def create_site(store, name, domains):
    """Create a site; return its public key and its secret (shown once)."""
    key = "s_" + secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")
    secret = "sk_" + secrets.token_urlsafe(24)
    domains = sorted({d.strip().lower() for d in domains if d.strip()})
    store.insert("sites", SITE_COLUMNS,
                 [(key, name, domains, digest(secret), int(time.time()), 0, _version(), 0)])
    return {"site": key, "secret": secret, "name": name, "domains": domains}


def list_sites(store, key=None):
    """Every live site (only the one with this ``key``, if given: a read of its own rows): key,
    name, domains, secret hash and retention (months kept, 0: all)."""
    rows = store.query(f"""
        SELECT site_key, argMax(name, version), argMax(domains, version),
               argMax(secret_hash, version), argMax(deleted, version) AS gone, argMax(retention_months, version)
        FROM sites {'' if key is None else 'WHERE site_key = %(key)s'}
        GROUP BY site_key HAVING gone = 0 ORDER BY site_key""", {"key": key})
    return [{"site": r[0], "name": r[1], "domains": list(r[2]), "secret_hash": r[3], "retention_months": r[5]}
            for r in rows]


def get_site(store, key):
    """One live site (as ``list_sites`` gives it), or None. (Every funnel and list of the API
    asks for its site's retention: not a read of every site.)"""
    return next(iter(list_sites(store, key)), None)


def update_site(store, key, retention_months=None):
    """Change a site's retention (months of touchpoints kept, 0: all); the site, or None if unknown."""
    rows = store.query(f"""
        SELECT {', '.join(f'argMax({c}, version)' for c in SITE_COLUMNS[1:])}
        FROM sites WHERE site_key = %(key)s GROUP BY site_key HAVING argMax(deleted, version) = 0""", {"key": key})
    if not rows:
        return None
    row = dict(zip(SITE_COLUMNS[1:], rows[0]), site_key=key, version=_version())
    if retention_months is not None:
        row["retention_months"] = retention_months
    store.insert("sites", SITE_COLUMNS, [tuple(row[c] for c in SITE_COLUMNS)])
    return get_site(store, key)


def may_see(sites, site):
    """Whether a list of site keys (``["*"]``: all) lets its holder see ``site``."""
    return ALL_SITES in sites or site in sites


def create_token(store, name="", sites=(ALL_SITES,)):
    """Create an analytics API token for ``sites`` (``["*"]``: every site); return it once."""
    token = "tk_" + secrets.token_urlsafe(24)
    sites = sorted(set(sites))
    store.insert("api_tokens", TOKEN_COLUMNS, [(digest(token), name, sites, int(time.time()), 0, _version())])
    return {"token": token, "id": digest(token)[:12], "name": name, "sites": sites}


def find_token(store, token):
    """The sites a token may see, or None for an unknown or revoked token."""
    rows = store.query("""
        SELECT argMax(sites, version), argMax(revoked, version)
        FROM api_tokens WHERE token_hash = %(hash)s GROUP BY token_hash""", {"hash": digest(token)})
    if not rows or rows[0][1]:
        return None
    return list(rows[0][0])


def list_tokens(store):
    """Every token: its id (the start of its hash), name, sites, creation time, revoked or not."""
    rows = store.query("""
        SELECT token_hash, argMax(name, version), argMax(sites, version), min(created_at),
               argMax(revoked, version)
        FROM api_tokens GROUP BY token_hash ORDER BY min(created_at), token_hash""")
    return [{"id": r[0][:12], "name": r[1], "sites": list(r[2]), "created_at": r[3], "revoked": bool(r[4])}
            for r in rows]


def revoke_token(store, token_or_id):
    """Revoke a token, given itself or its id; later requests with it get 401. False if unknown."""
    found = store.query("""
        SELECT token_hash, argMax(name, version) FROM api_tokens
        WHERE token_hash = %(hash)s OR (length(%(id)s) >= 8 AND startsWith(token_hash, %(id)s))
        GROUP BY token_hash""", {"hash": digest(token_or_id), "id": token_or_id})
    if len(found) != 1:
        return False
    token_hash, name = found[0]
    store.insert("api_tokens", TOKEN_COLUMNS, [(token_hash, name, [], int(time.time()), 1, _version())])
    return True
