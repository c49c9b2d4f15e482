"""Login attempts limited per client address and per email, with flask-limiter.

The limits apply to POSTs of the dashboards' login form, besides the lock-out of an email after
repeated failures (``store/accounts.py``). flask-limiter hooks every request of the app it is
given; that costs 100-200 µs a request even where no limit applies (measured), which a pixel hit
must not pay, so its hooks are moved to the dashboards' blueprint, the only one it limits.
"""
import hashlib

from flask import request
from flask_limiter import Limiter

from ..current import client_address
from ..store.accounts import normalise_email

LOGIN_VIEW = "dashboards.login"
BLUEPRINT = "dashboards"


def _digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _address_key():
    return "ip:" + _digest(client_address())


def _email_key():
    return "email:" + _digest(normalise_email(request.form.get("email", "")))


def _scope_hooks_to_blueprint(app, init):
    """Run ``init()`` (which registers app-wide hooks) and move what it registered to BLUEPRINT."""
    tables = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    counts = [len(table.get(None, [])) for table in tables]
    init()
    for table, count in zip(tables, counts):
        added = table.get(None, [])[count:]
        del table[None][count:]
        table.setdefault(BLUEPRINT, []).extend(added)


def limit_logins(app, settings, uri, prefix):
    """Wrap the login view with the per-address and per-email limits that are on."""
    per_ip, per_email = settings["login_limit_per_ip"], settings["login_limit_per_email"]
    if not (per_ip or per_email) or LOGIN_VIEW not in app.view_functions:
        return None
    options = {} if uri.startswith("memory://") else {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    limiter = Limiter(_address_key, storage_uri=uri, storage_options=options, key_prefix=prefix + ":login",
                      strategy="fixed-window", headers_enabled=True, swallow_errors=True)
    _scope_hooks_to_blueprint(app, lambda: limiter.init_app(app))
    view = app.view_functions[LOGIN_VIEW]
    if per_email:
        view = limiter.limit(per_email, key_func=_email_key, methods=["POST"], scope="login-email")(view)
    if per_ip:
        view = limiter.limit(per_ip, key_func=_address_key, methods=["POST"], scope="login-ip")(view)
    app.view_functions[LOGIN_VIEW] = view
    app.extensions["login_limiter"] = limiter
    return limiter
