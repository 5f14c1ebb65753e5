"""Reads of a user's API access."""

from rest_framework.authtoken.models import Token

# How much of a token's key the page shows once it was shown whole: enough to tell two apart.
KEY_PREFIX_CHARS = 4


def token_of(user) -> Token | None:
    return Token.objects.filter(user_id=user.pk).first()


def key_prefix(token: Token) -> str:
    return f"{token.key[:KEY_PREFIX_CHARS]}…"
