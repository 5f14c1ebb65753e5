"""Static files in production: collectstatic's hashed, compressed copies when there are any,
the source files otherwise.

WhiteNoise's manifest storage raises "Missing staticfiles manifest entry" for a file the
manifest lacks, and every page links the stylesheet: a server started without `make build`
(or with a STATIC_ROOT collected before a file was added) answered 500 on every page, the
sign-in page and the error pages included. Here such a name keeps its own, unhashed URL and
WhiteNoise serves it from the source tree (settings.WHITENOISE_USE_FINDERS): the page renders
with its stylesheet, only uncompressed and cached for a minute instead of for good. The
deployment check `bespin.W001` (bespin/checks.py) and a warning in the log say so.

Refusing to start was the other choice. It would turn that slip into an outage, and stop the
processes that do not serve static files at all (workers, and the servers the tests and the
benchmark start from a checkout that was never collected).
"""

import logging

from django.contrib.staticfiles import finders
from whitenoise.storage import CompressedManifestStaticFilesStorage

log = logging.getLogger("bespin.static")


class ManifestOrSourceStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.manifest_found = self.manifest_storage.exists(self.manifest_name)
        self._warned: set[str] = set()

    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError:
            # A name no source file has stays an error: WhiteNoise asks for such names on
            # purpose (to tell hashed files from others) and expects one.
            if not finders.find(name):
                raise
            self._warn_once(name)
            return name

    def _warn_once(self, name: str) -> None:
        if not self.manifest_found:
            name = ""  # one warning says it for every file
        if name in self._warned:
            return
        self._warned.add(name)
        if name:
            log.warning(
                "static file %s is not in %s: served unhashed from the source tree; run `make build`",
                name,
                self.path(self.manifest_name),
            )
        else:
            log.warning(
                "no %s: static files are served unhashed from the source tree, uncompressed; run `make build`",
                self.path(self.manifest_name),
            )
