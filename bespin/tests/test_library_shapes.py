"""Where Bespin reaches into a library's internals (replaces a method, subclasses a private
one, imports a private name, reads a private attribute), the library is pinned in
requirements.lock, the installed version is that pin, and the parts reached into still have
the shape the code expects. An upgrade that moves any of them fails here, naming the Bespin
module to look at, instead of silently turning a body limit or a fast path off."""

import importlib
import importlib.metadata
import inspect
import re

import pytest

from bespin.testing.processes import ROOT


def _locked() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text()
    return {name.lower(): version for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.M)}


LOCKED = _locked()


def _resolve(path: str):
    module, _, attribute = path.partition(":")
    value = importlib.import_module(module)
    for name in filter(None, attribute.split(".")):
        value = getattr(value, name)
    return value


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


# (distribution, the Bespin module that reaches in, what it relies on: `module:object` →
# the parameters it is called with, or None where only its existence matters).
REACHED_INTO = [
    ("twisted", "bespin.server.bodylimit", {
        "daphne.http_protocol:WebRequest.gotLength": ["self", "length"],
        "daphne.http_protocol:WebRequest.handleContentChunk": ["self", "data"],
        "daphne.http_protocol:WebRequest.process": ["self"],
    }),
    ("daphne", "bespin.server.bodylimit", {"daphne.http_protocol:WebRequest": None}),
    ("autobahn", "bespin.server.wsprotocol", {
        "autobahn.websocket.protocol:pformat": None,
        "autobahn.websocket.protocol:Timings.__str__": ["self"],
    }),
    ("asgiref", "bespin.server.wsgi_bridge", {
        "asgiref.wsgi:WsgiToAsgiInstance.build_environ": ["self", "scope", "body"],
    }),
    ("channels-redis", "bespin.server.channel_layer", {
        "channels_redis.pubsub:RedisPubSubChannelLayer._get_layer": ["self"],
        "channels_redis.pubsub:RedisPubSubLoopLayer.send": ["self", "channel", "message"],
        "channels_redis.pubsub:RedisPubSubLoopLayer.new_channel": ["self", "prefix"],
        "channels_redis.pubsub:RedisSingleShardConnection.subscribe": ["self", "channel"],
        "channels_redis.pubsub:RedisSingleShardConnection._do_receiving": ["self"],
        "channels_redis.pubsub:RedisSingleShardConnection._receive_message": ["self", "message"],
        "channels_redis.pubsub:_consistent_hash": ["value", "ring_size"],
        "channels_redis.pubsub:_wrap_close": ["proxy", "loop"],
        "channels_redis.pubsub:decode_hosts": ["hosts"],
    }),
    ("rq", "jobs.execution.worker and jobs.execution.entries", {
        "rq.worker:SimpleWorker.execute_job": ["self", "job", "queue"],
        "rq.worker:Worker.heartbeat": ["self", "timeout", "pipeline"],
        "rq.worker:Worker.set_state": ["self", "state", "pipeline"],
        "rq.worker:Worker.check_for_suspension": ["self", "burst"],
        "rq.worker:Worker.bootstrap": ["self", "logging_level", "date_format", "log_format"],
        "rq.worker:Worker.request_stop": ["self", "signum", "frame"],
        "rq.worker:Worker.handle_job_failure": ["self", "job", "queue", "started_job_registry", "exc_string"],
        "rq.queue:Queue.intermediate_queue": None,
    }),
    ("drf-spectacular", "bespin.lib.schema", {
        "drf_spectacular.openapi:AutoSchema._map_serializer_field": ["self", "field", "direction", "bypass_extensions"],
        "drf_spectacular.openapi:AutoSchema._map_basic_serializer": ["self", "serializer", "direction"],
        "drf_spectacular.openapi:AutoSchema._get_request_for_media_type": ["self", "serializer", "direction"],
        "drf_spectacular.openapi:AutoSchema._process_override_parameters": ["self", "direction"],
    }),
    ("whitenoise", "bespin.server.staticfiles", {
        "whitenoise.storage:CompressedManifestStaticFilesStorage.stored_name": ["self", "name"],
    }),
]  # fmt: skip


@pytest.mark.parametrize(("distribution", "where", "parts"), REACHED_INTO, ids=[d for d, _, _ in REACHED_INTO])
def test_each_library_reached_into_is_locked_and_keeps_its_shape(distribution, where, parts):
    installed = importlib.metadata.version(distribution)
    assert distribution in LOCKED, f"{where} reaches into {distribution}, which requirements.lock does not pin"
    assert installed == LOCKED[distribution], (
        f"{distribution} {installed} is installed, requirements.lock pins {LOCKED[distribution]}: "
        f"install from the lock (make install-dev), or check {where} against {installed} and `make lock`"
    )
    for path, expected in parts.items():
        try:
            found = _resolve(path)
        except (ImportError, AttributeError):
            pytest.fail(f"{distribution} {installed} has no {path}, which {where} relies on")
        # What Bespin replaced, where it did (each replacement keeps it as its __wrapped__).
        found = inspect.unwrap(found)
        if expected is not None:
            assert _parameters(found)[: len(expected)] == expected, (
                f"{distribution} {installed}: {path} now takes {_parameters(found)}; {where} calls or replaces it "
                f"as taking {expected}"
            )


def test_twisted_still_parses_form_bodies_only_where_bodylimit_turns_it_off():
    # bodylimit sets the request's _parsePOSTFormSubmission to False so that Twisted never
    # parses a form body it did not limit; the flag must still be what Twisted reads.
    from twisted.web import http

    source = inspect.getsource(http.Request)
    for attribute in ("_parsePOSTFormSubmission", "requestHeaders"):
        assert attribute in source, (
            f"twisted.web.http.Request has no {attribute} any more: check bespin.server.bodylimit"
        )


def test_autobahn_still_formats_its_config_with_the_pformat_wsprotocol_defers():
    from autobahn.websocket import protocol

    assert re.search(r"\bpformat\(", inspect.getsource(protocol)), (
        "autobahn.websocket.protocol no longer calls its module's pformat: bespin.server.wsprotocol defers nothing"
    )
    assert "_timings" in inspect.getsource(protocol.Timings), "autobahn's Timings keeps no _timings any more"
