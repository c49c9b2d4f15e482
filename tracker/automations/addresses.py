"""Where a webhook may go: never into the company's own network.

A URL is checked when it is saved and again when each delivery is sent (a name may resolve
elsewhere by then): every address its host resolves to must be a public one, and the
delivery connects to the address that was checked, not to a second lookup (DNS rebinding).
``TRACKER_WEBHOOK_ALLOW_PRIVATE=1`` lifts the rule (a receiver on the same machine, the demo).
"""
import ipaddress
import socket
from urllib.parse import urlparse


class AddressRefused(ValueError):
    """The URL's host is private, loopback, link-local or does not resolve; the message says which."""


def _kind(address):
    """Why ``address`` is not a public one, or None when it is."""
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    for name, flag in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                       ("private", address.is_private), ("multicast", address.is_multicast),
                       ("unspecified", address.is_unspecified), ("reserved", address.is_reserved)):
        if flag:
            return name
    return None if address.is_global else "not public"


def resolve(url, allow_private=False):
    """The address to connect to for ``url`` (http or https): the first of those its host
    resolves to; AddressRefused when any of them is not public (unless ``allow_private``)."""
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused("a webhook URL is http:// or https:// with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"{parts.hostname} does not resolve ({exc})") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
    if not allow_private:
        for address in addresses:
            kind = _kind(address)
            if kind:
                raise AddressRefused(f"{parts.hostname} resolves to {address}, a {kind} address: webhooks go "
                                     f"to public addresses only (TRACKER_WEBHOOK_ALLOW_PRIVATE=1 allows it)")
    return str(addresses[0])
