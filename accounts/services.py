"""Changes users make to their API access: the token the API takes as
`Authorization: Token <key>` (DRF's authtoken, one per user). The callback signing secret is
callbacks.services'."""

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token


class TokenExists(Exception):
    """The user has a token already: a new key is rotate_token's to make."""


def _lock_user(user) -> None:
    # Two requests for one user (a double click) take turns here, so that neither fails on
    # the one-token-per-user constraint.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def create_token(*, user) -> Token:
    """The user's first API token; its key is in the answer and nowhere else they can read it.
    Raises TokenExists when they have one: a page opened before it was made must not replace
    a key in use."""
    with transaction.atomic():
        _lock_user(user)
        if Token.objects.filter(user=user).exists():
            raise TokenExists("you have an API token already: rotate it for a new key")
        return Token.objects.create(user=user)


@transaction.atomic
def rotate_token(*, user) -> Token:
    """A new API token for the user (the first, if they had none). The old key is refused from
    the next request on: the API reads tokens from the database on every request."""
    _lock_user(user)
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def revoke_token(*, user) -> bool:
    """Delete the user's API token; False when they had none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
