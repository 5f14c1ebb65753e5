"""Who sent a request: the client address, and the identity that limits count against."""

import hashlib

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
    if len(remote) > MAX_ADDRESS:
        return "sha256:" + hashlib.sha256(remote.encode()).hexdigest()
    return remote


def client_id(request) -> str:
    """What a request's limits and Idempotency-Keys are counted by: the signed-in user, or
    the address of an anonymous caller."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_address(request)}"
