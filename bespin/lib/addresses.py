"""Which callback URLs and addresses Bespin may call: http or https, no user name or password,
and only public addresses, unless BESPIN_CALLBACK_ALLOW_PRIVATE is set (tests, `make dev`).

A URL is checked twice. When the job is created, what the URL itself shows is refused at once
(a scheme, credentials, a literal address or `localhost` that is not public): a 400 the caller
can act on. When it is sent, its host is resolved and every address it resolves to is vetted,
and the sender connects to a vetted address itself (callbacks.transport), so a name that
resolves to a private address, or a DNS answer that changes between a check and a connect,
never reaches one.
"""

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
SCHEMES = ("http", "https")
# NAT64's well-known prefix: the last 32 bits are the IPv4 address really reached.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# A host made only of these may be an IPv4 address in a form ipaddress does not read but the
# resolver does (`2130706433`, `0x7f.1`, `017700000001`): 127.0.0.1 each.
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")
_FLAGS = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    # IPv6 only: fec0::/10, deprecated but still routed inside some sites, and not in
    # ipaddress's list of private networks.
    ("is_site_local", "site-local"),
    ("is_multicast", "multicast"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedUrl(ValueError):
    """The URL may not be called; the message says why, for the caller or the attempt log."""


@dataclass(frozen=True)
class Target:
    scheme: str  # http or https
    host: str  # lowercase, IDNA-encoded: what DNS, the Host header and TLS's server name get
    port: int
    path: str  # path and query, what the request line carries

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def refusal(address: Address) -> str | None:
    """Why a callback may not go to `address` ("loopback", "private", …), or None when public.
    An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by both."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal(address.ipv4_mapped)
        embedded = [address.sixtofour, address.teredo[1] if address.teredo else None]
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        for inner in embedded:
            if inner is not None and (reason := refusal(inner)):
                return reason
    for flag, reason in _FLAGS:
        if getattr(address, flag, False):
            return reason
    return None if address.is_global else "not globally routable"


def literal_address(host: str) -> Address | None:
    """The address a host names literally, in any form the resolver would accept; None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def parse(url: str) -> Target:
    """The parts of a callback URL; RefusedUrl for one that could never be called."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedUrl(f"must be at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise RefusedUrl("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedUrl("is not a valid URL (check the host and port)") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise RefusedUrl("must be an http or https URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise RefusedUrl("must not carry a user name or password; authenticate the callback by its signature")
    if not parts.hostname:
        raise RefusedUrl("has no host")
    try:
        # An internationalised name goes on the wire, in DNS and in TLS as its IDNA form.
        host = parts.hostname.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise RefusedUrl("has a host name that is not valid") from None
    if not host:
        raise RefusedUrl("has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), path=path)


# What parse() takes, as the OpenAPI schema states it (a JSON Schema pattern, read alike by
# ECMA 262 and Python): http(s), a host of labels, a port, then anything printable. ASCII
# only, though parse() also takes other printable characters after the host.
_LABEL = "[A-Za-z0-9_-]{1,63}"
_PORT = "6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}"
URL_PATTERN = f"[Hh][Tt][Tt][Pp][Ss]?://{_LABEL}(?:\\.{_LABEL})*\\.?(?::(?:{_PORT}))?(?:[/?#][!-~]*)?"


def check_url(url: str, *, allow_private: bool) -> Target:
    """`parse`, and refuse a host that names a non-public address by itself (a literal
    address, `localhost`); a name is vetted by what it resolves to when sending."""
    target = parse(url)
    if allow_private:
        return target
    if target.host == "localhost" or target.host.endswith(".localhost"):
        raise RefusedUrl("must not point at localhost: callbacks go to public addresses only")
    address = literal_address(target.host)
    if address is not None and (reason := refusal(address)):
        raise RefusedUrl(f"points at {address}, a {reason} address: callbacks go to public addresses only")
    return target


def vetted_addresses(target: Target, addresses: list[str], *, allow_private: bool) -> list[str]:
    """The addresses of `addresses` (what the host resolved to) that may be called, in order;
    RefusedUrl naming the first refused one when none may."""
    allowed, refused = [], []
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = None if allow_private else refusal(address)
        (refused if reason else allowed).append((text, reason))
    if not allowed:
        text, reason = refused[0]
        raise RefusedUrl(f"{target.host} resolves to {text}, a {reason} address: callbacks go to public addresses only")
    return [text for text, _ in allowed]
