"""Status changes are published as the PUBLISHes Bespin's pub/sub layer computes, to each
host's URL: a configuration that would make them fail quietly is a system check error."""

import copy

import pytest
from django.conf import settings as django_settings

from bespin.checks import check_channel_layer


def _layer(**changes) -> dict:
    layer = copy.deepcopy(django_settings.CHANNEL_LAYERS)
    layer["default"].update(changes)
    return layer


def test_bespins_own_settings_pass():
    assert check_channel_layer(None) == []


@pytest.mark.parametrize(
    ("changes", "error_id"),
    [
        ({"BACKEND": "channels_redis.core.RedisChannelLayer"}, "bespin.E002"),
        ({"BACKEND": "no.such.Layer"}, "bespin.E002"),
        ({"CONFIG": {"hosts": [{"address": "redis://localhost:6379/0", "password": "secret"}]}}, "bespin.E001"),
        ({"CONFIG": {"hosts": [("localhost", 6379)]}}, "bespin.E001"),
    ],
)
def test_a_layer_the_publisher_cannot_use_is_an_error(settings, changes, error_id):
    settings.CHANNEL_LAYERS = _layer(**changes)
    assert [error.id for error in check_channel_layer(None)] == [error_id]


def test_hosts_as_urls_or_tuned_addresses_pass(settings):
    hosts = ["redis://localhost:6379/0", {"address": "rediss://user:pw@cache:6380/1", "socket_timeout": 30}]
    settings.CHANNEL_LAYERS = _layer(CONFIG={"hosts": hosts})
    assert check_channel_layer(None) == []
