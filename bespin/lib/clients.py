"""Who sent a request: the client address, and the identity that limits count against.

An IPv6 client is its network: one host commonly has a whole /64 to draw addresses from, so
counting the exact address would give it as many budgets as it likes. Every limit that counts
by address (job creation, the cap on unfinished jobs, sign-in, unverified webhook
deliveries, WebSockets) counts the BESPIN_IPV6_PREFIX network (/64 unless set).
"""

import hashlib
import ipaddress

from django.conf import settings

# Behind proxies (BESPIN_NUM_PROXIES) an address comes from X-Forwarded-For: bounded in length.
MAX_ADDRESS = 64


def client_address(request) -> str:
    """The address of a Django request's client (see address_of)."""
    return address_of(request.META.get("REMOTE_ADDR") or "", request.META.get("HTTP_X_FORWARDED_FOR"))


def address_of(remote: str, forwarded: str | None) -> str:
    """The client's address: the connection's (`remote`), or with BESPIN_NUM_PROXIES trusted
    proxies in front, the one the nearest of them saw in X-Forwarded-For (`forwarded`). A
    client cannot pick it with a header when no proxy is trusted."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    if proxies and forwarded:
        addresses = forwarded.split(",")
        remote = addresses[-min(proxies, len(addresses))].strip()
    remote = _bucket(remote)
    if len(remote) > MAX_ADDRESS:
        return "sha256:" + hashlib.sha256(remote.encode()).hexdigest()
    return remote


def _bucket(address: str) -> str:
    """An IPv6 address as its network of BESPIN_IPV6_PREFIX bits (an IPv4 one mapped into IPv6
    as itself); anything else as it is."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return address
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/{settings.IPV6_PREFIX}", strict=False))


def client_id(request) -> str:
    """What a request's limits and Idempotency-Keys are counted by: the signed-in user, or
    the address of an anonymous caller."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user_client(user.pk)
    return f"ip:{client_address(request)}"


def user_client(user_id) -> str:
    """What a signed-in user's limits are counted by, however their jobs come (a request, their
    schedules)."""
    return f"user:{user_id}"
