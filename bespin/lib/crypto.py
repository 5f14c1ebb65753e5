"""Secrets at rest: Fernet with a key derived from SECRET_KEY.

A database dump alone does not give away the signing secrets. Keys derived from
SECRET_KEY_FALLBACKS still decrypt, so SECRET_KEY can be rotated the way Django rotates it.
"""

import base64
import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_SALT = b"bespin.webhooks"
_ENCRYPTION_INFO = b"webhook secret encryption"
_FINGERPRINT_INFO = b"webhook secret fingerprint"


def _derive(secret_key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret_key.encode())


@cache
def _fernet(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    keys = [secret_key, *fallbacks]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(_derive(key, _ENCRYPTION_INFO))) for key in keys])


def _current() -> MultiFernet:
    return _fernet(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def encrypt(secret: str) -> str:
    return _current().encrypt(secret.encode()).decode("ascii")


def decrypt(ciphertext: str) -> str | None:
    """The secret, or None when no current or fallback SECRET_KEY encrypted it."""
    try:
        return _current().decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        return None


def fingerprint(secret: str) -> str:
    """A short keyed hash that tells secrets apart; without SECRET_KEY it reveals nothing."""
    key = _derive(settings.SECRET_KEY, _FINGERPRINT_INFO)
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()[:12]
