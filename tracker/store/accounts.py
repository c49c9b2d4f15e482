"""Dashboard accounts, login attempts and invitations, kept in ClickHouse.

Passwords are hashed with werkzeug's scrypt (it ships with Flask and is maintained there).
The lock-out reads the attempts table, so it holds across every app node.
"""
import hashlib
import secrets
import time
import uuid

from werkzeug.security import check_password_hash, generate_password_hash

USER_COLUMNS = ["user_id", "email", "password_hash", "sites", "invited_by", "created_at", "disabled", "version"]
INVITE_COLUMNS = ["token_hash", "email", "sites", "invited_by", "created_at", "expires_at", "used", "version"]

MIN_PASSWORD = 10
LOCK_AFTER = 5            # failures in a row ...
LOCK_SECONDS = 15 * 60    # ... lock the account for this long after the last of them
INVITE_SECONDS = 7 * 86400

# Checked when the email is unknown, so an unknown email costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password", method="scrypt")


class AccountError(ValueError):
    """A request about an account that cannot be honoured; the message is for the user."""


def _version():
    return time.time_ns()


def _digest(value):
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(email):
    """Emails compare case-insensitively and without surrounding blanks."""
    return (email or "").strip().lower()


def check_new_password(password):
    """Raise AccountError when a new password is too weak to accept."""
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")


def _live_row(store, email):
    """The newest row of ``email``'s account as a dict (disabled ones too), or None."""
    columns = [c for c in USER_COLUMNS if c not in ("email", "version")]
    rows = store.query(f"""
        SELECT {', '.join(f'argMax({c}, version)' for c in columns)}
        FROM dashboard_users WHERE email = %(email)s GROUP BY email""", {"email": normalise_email(email)})
    return dict(zip(columns, rows[0]), email=normalise_email(email)) if rows else None


def find_user(store, email):
    """The live (not disabled) account of ``email`` as a dict, or None."""
    row = _live_row(store, email)
    if row is None or row["disabled"]:
        return None
    return {"user_id": row["user_id"], "email": row["email"], "password_hash": row["password_hash"],
            "sites": sorted(row["sites"])}


def access_of(store, email):
    """``{"user_id", "sites"}`` of a live account, or None once it is disabled or gone: what a
    logged-in session may see, read from the store on every request (cached for seconds)."""
    user = find_user(store, email)
    return user and {"user_id": user["user_id"], "sites": user["sites"]}


def update_user(store, email, sites=None, disabled=None):
    """Change an account's sites, or disable (or enable) it; takes effect on its next request."""
    row = _live_row(store, email)
    if row is None:
        raise AccountError(f"there is no account for {normalise_email(email)}")
    if sites is not None:
        row["sites"] = sorted(set(sites))
    if disabled is not None:
        row["disabled"] = int(disabled)
    row["version"] = _version()
    store.insert("dashboard_users", USER_COLUMNS, [tuple(row[c] for c in USER_COLUMNS)])
    return {"user_id": row["user_id"], "email": row["email"], "sites": row["sites"], "disabled": bool(row["disabled"])}


def list_users(store):
    """Every account: email, sites, disabled or not."""
    rows = store.query("""
        SELECT email, argMax(sites, version), argMax(disabled, version)
        FROM dashboard_users GROUP BY email ORDER BY email""")
    return [{"email": r[0], "sites": sorted(r[1]), "disabled": bool(r[2])} for r in rows]


def create_user(store, email, password, sites, invited_by=""):
    """Create (or replace the password and sites of) an account; returns it without the hash."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError("enter a valid email address")
    check_new_password(password)
    if not sites:
        raise AccountError("give the account at least one site")
    existing = find_user(store, email)
    user_id = existing["user_id"] if existing else "u_" + uuid.uuid4().hex[:16]
    store.insert("dashboard_users", USER_COLUMNS, [(
        user_id, email, generate_password_hash(password, method="scrypt"), sorted(set(sites)),
        invited_by, int(time.time()), 0, _version())])
    return {"user_id": user_id, "email": email, "sites": sorted(set(sites))}


def _recent_attempts(store, email, now):
    return store.query("""
        SELECT attempted_at, ok FROM login_attempts
        WHERE email = %(email)s AND attempted_at >= %(since)s
        ORDER BY attempted_at DESC LIMIT 100""", {"email": email, "since": int(now) - LOCK_SECONDS})


def locked_until(store, email, now=None):
    """Unix time until which ``email`` is locked out, or 0 when it may try."""
    now = time.time() if now is None else now
    failures = []
    for attempted_at, ok in _recent_attempts(store, normalise_email(email), now):
        if ok:
            break
        failures.append(attempted_at)
    if len(failures) < LOCK_AFTER:
        return 0
    return failures[0] + LOCK_SECONDS


def record_attempt(store, email, ok, ip=""):
    """Remember one login attempt (the address only as a hash)."""
    store.insert("login_attempts", ["email", "attempted_at", "ok", "ip_hash"],
                 [(normalise_email(email), int(time.time()), int(ok), _digest(ip) if ip else "")])


def authenticate(store, email, password, ip=""):
    """The account for a correct email and password, else raise AccountError.

    Locked accounts are refused before the password is looked at; each failure is recorded.
    """
    email = normalise_email(email)
    until = locked_until(store, email)
    if until:
        minutes = max(1, round((until - time.time()) / 60))
        raise AccountError(f"too many failed attempts: try again in {minutes} minute{'s' if minutes > 1 else ''}")
    user = find_user(store, email) if email else None
    if not check_password_hash(user["password_hash"] if user else _DUMMY_HASH, password or "") or not user:
        record_attempt(store, email, False, ip)
        raise AccountError("wrong email or password")
    record_attempt(store, email, True, ip)
    return {k: v for k, v in user.items() if k != "password_hash"}


def create_invitation(store, email, sites, invited_by, allowed):
    """A one-time invitation token for ``email`` to ``sites`` (each must be in ``allowed``)."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError("enter a valid email address")
    if not sites:
        raise AccountError("choose at least one site")
    foreign = sorted(set(sites) - set(allowed))
    if foreign:
        raise AccountError("you can only share sites you have yourself")
    if find_user(store, email):
        # Accepting sets the password: an invitation must never take over an existing account.
        raise AccountError("this email has an account already; its sites are changed with `tracker user create`")
    token = secrets.token_urlsafe(24)
    now = int(time.time())
    store.insert("dashboard_invitations", INVITE_COLUMNS, [(
        _digest(token), email, sorted(set(sites)), invited_by, now, now + INVITE_SECONDS, 0, _version())])
    return token


def find_invitation(store, token):
    """The open invitation of ``token`` ({"email", "sites"}), or None if unknown, used or expired."""
    rows = store.query("""
        SELECT argMax(email, version), argMax(sites, version), argMax(expires_at, version),
               argMax(used, version)
        FROM dashboard_invitations WHERE token_hash = %(hash)s GROUP BY token_hash""",
                       {"hash": _digest(token or "")})
    if not rows:
        return None
    email, sites, expires_at, used = rows[0]
    if used or expires_at < time.time():
        return None
    return {"email": email, "sites": sorted(sites)}


def accept_invitation(store, token, password):
    """Create the invited account with ``password``; the token cannot be used again."""
    invitation = find_invitation(store, token)
    if invitation is None:
        raise AccountError("this invitation is unknown, used or expired: ask for a new one")
    if find_user(store, invitation["email"]):
        raise AccountError("this email has an account already: log in instead")
    check_new_password(password)
    user = create_user(store, invitation["email"], password, invitation["sites"])
    store.insert("dashboard_invitations", INVITE_COLUMNS, [(
        _digest(token), invitation["email"], invitation["sites"], "", int(time.time()), 0, 1, _version())])
    return user
