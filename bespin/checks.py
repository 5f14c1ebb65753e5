"""System checks of a deployment (`manage.py check --deploy`, which `make build` runs)."""

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.checks import Error, Tags, Warning, register
from django.core.files.storage import storages
from django.utils.module_loading import import_string

# collectstatic's default ignore patterns: the files it leaves out need no manifest entry.
IGNORED = ["CVS", ".*", "*~"]


@register(Tags.staticfiles, deploy=True)
def check_collected_static(app_configs, **kwargs):
    """A manifest storage without a manifest, or with one older than the files, still serves
    every page (bespin/server/staticfiles.py), but from the source tree: say so before deploying."""
    if settings.DEBUG:
        return []
    # A new instance, so that the manifest is read as it is on disk now.
    storage = storages.create_storage(settings.STORAGES["staticfiles"])
    if not isinstance(storage, ManifestFilesMixin):
        return []
    manifest = storage.path(storage.manifest_name)
    if not storage.manifest_storage.exists(storage.manifest_name):
        return [
            Warning(
                f"{manifest} does not exist: static files are served unhashed from the source tree, "
                "uncompressed and without long-lived caching.",
                hint="Run `make build` (collectstatic) before serving.",
                id="bespin.W001",
            )
        ]
    missing = sorted(name for name in _static_names() if storage.hash_key(name) not in storage.hashed_files)
    if missing:
        return [
            Warning(
                f"{manifest} is out of date: {len(missing)} static file(s) are not in it, such as "
                f"{', '.join(missing[:3])}; they are served unhashed from the source tree.",
                hint="Run `make build` (collectstatic) again.",
                id="bespin.W002",
            )
        ]
    return []


def _static_names() -> set[str]:
    """The names collectstatic would collect, as its manifest spells them."""
    names = set()
    for finder in finders.get_finders():
        for path, source in finder.list(IGNORED):
            prefix = getattr(source, "prefix", None)
            name = f"{prefix}/{path}" if prefix else path
            names.add(name.replace("\\", "/"))
    return names


# What a host of the channel layer may give beside its URL: tuning of its connections.
# Credentials and TLS belong in the URL (rediss://user:password@host), which the status
# publisher (jobs.events) connects with.
HOST_TUNING = {"socket_timeout", "socket_connect_timeout", "socket_keepalive", "max_connections",
               "health_check_interval", "retry_on_timeout"}  # fmt: skip
# The one host of Redis behind Sentinel, as the settings make it from REDIS_SENTINELS.
SENTINEL_HOST = {"sentinels", "master_name", "sentinel_kwargs", "db", "username", "password"}


@register()
def check_channel_layer(app_configs, **kwargs):
    """Status changes are published straight to the layer's Redis (jobs.events), found by
    each host's URL, as the PUBLISHes Bespin's pub/sub layer says a group send makes."""
    from bespin.server.channel_layer import PubSubChannelLayer

    layer = settings.CHANNEL_LAYERS.get("default", {})
    errors = []
    backend = layer.get("BACKEND", "")
    try:
        usable = issubclass(import_string(backend), PubSubChannelLayer)
    except ImportError:
        usable = False
    if not usable:
        errors.append(
            Error(
                f"CHANNEL_LAYERS['default'] must use bespin.server.channel_layer.PubSubChannelLayer, not {backend!r}",
                id="bespin.E002",
            )
        )
    hosts = layer.get("CONFIG", {}).get("hosts") or []
    for host in hosts:
        if not (
            isinstance(host, str)
            or (isinstance(host, dict) and "address" in host and host.keys() - {"address"} <= HOST_TUNING)
            or (len(hosts) == 1 and isinstance(host, dict) and host.get("sentinels") == settings.REDIS_SENTINELS
                and host.keys() - SENTINEL_HOST <= HOST_TUNING)
        ):  # fmt: skip
            errors.append(
                Error(
                    f"a host of CHANNEL_LAYERS['default'] must be a Redis URL, or a dict of an 'address' URL "
                    f"and any of {sorted(HOST_TUNING)}: credentials and TLS go in the URL; got {host!r}",
                    id="bespin.E001",
                )
            )
    return errors


@register(Tags.security, deploy=True)
def check_no_development_env_file(app_configs, **kwargs):
    """Production reads its settings from its own environment, never from the .env.dev that
    `make dev` writes (DEBUG=1, callbacks to private addresses allowed, a key nobody chose)."""
    if not settings.ENV_FILE_READ:
        return []
    return [
        Error(
            f"settings were read from {settings.ENV_FILE_READ}, the development settings `make dev` writes; "
            "in production remove it, or run with BESPIN_ENV_FILE= (empty) so that nothing reads it",
            id="bespin.E003",
        )
    ]
