"""System checks of a deployment (`manage.py check --deploy`, which `make build` runs)."""

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.checks import Error, Tags, Warning, register
from django.core.files.storage import storages

# collectstatic's default ignore patterns: the files it leaves out need no manifest entry.
IGNORED = ["CVS", ".*", "*~"]


@register(Tags.staticfiles, deploy=True)
def check_collected_static(app_configs, **kwargs):
    """A manifest storage without a manifest, or with one older than the files, still serves
    every page (bespin/staticfiles.py), but from the source tree: say so before deploying."""
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


@register()
def check_channel_layer_hosts(app_configs, **kwargs):
    """Status changes are published straight to the layer's Redis (jobs.events), which is
    found by its URL: every host of the channel layer must be given as one."""
    hosts = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts") or []
    if all(isinstance(host, str) or (isinstance(host, dict) and "address" in host) for host in hosts):
        return []
    return [
        Error(
            "every host of CHANNEL_LAYERS['default'] must be a Redis URL, or a dict with an 'address' URL",
            id="bespin.E001",
        )
    ]
