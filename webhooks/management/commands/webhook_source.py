"""Manage webhook sources from a shell, as the admin does.

    manage.py webhook_source list
    manage.py webhook_source create stripe --scheme stripe
    manage.py webhook_source add-secret stripe < secret.txt      (or --generate)
    manage.py webhook_source retire-secret stripe <fingerprint> --after 24h
    manage.py webhook_source trigger github "push" random_text --params '{"length": 10}'

A secret is read from standard input, never from the command line, where the shell's history
and `ps` would keep it; it is printed only when generated, once.
"""

import argparse
import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rest_framework import serializers

from bespin.lib.durations import duration_argument
from webhooks import config, selectors, sources
from webhooks.models import SchemeName, WebhookSource, WebhookTrigger


def _rate(text: str) -> int | None:
    return None if text == "default" else int(text)


class Command(BaseCommand):
    help = "List, create, update and delete webhook sources, their secrets and their triggers."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        commands.add_parser("list", help="every source, with its secrets' fingerprints and its triggers")

        for name in ("create", "update"):
            sub = commands.add_parser(name, help=f"{name} a source")
            sub.add_argument("name")
            sub.add_argument("--scheme", choices=SchemeName.values)
            sub.add_argument("--tolerance", type=int, help="seconds a signed timestamp may be off (0: no check)")
            sub.add_argument(
                "--rate", type=_rate, default=argparse.SUPPRESS,
                help="deliveries a minute (0: no limit; 'default': BESPIN_WEBHOOK_RATE_PER_MINUTE)",
            )  # fmt: skip
            sub.add_argument("--enable", dest="enabled", action="store_true", default=None)
            sub.add_argument("--disable", dest="enabled", action="store_false")

        sub = commands.add_parser("delete", help="delete a source with its secrets and triggers (receipts stay)")
        sub.add_argument("name")

        sub = commands.add_parser("add-secret", help="add an active secret, read from standard input")
        sub.add_argument("name")
        sub.add_argument("--generate", action="store_true", help="generate one and print it, once")
        sub.add_argument("--expires-in", type=duration_argument, help="verifies for this long only (30d, 12h)")

        sub = commands.add_parser("retire-secret", help="stop a secret verifying, now or --after a while")
        sub.add_argument("name")
        sub.add_argument("fingerprint")
        sub.add_argument("--after", type=duration_argument, help="keep it verifying for this long (24h)")

        sub = commands.add_parser("trigger", help="start a job for events matching a pattern (* wildcards)")
        sub.add_argument("name")
        sub.add_argument("event_pattern")
        sub.add_argument("job_kind")
        sub.add_argument("--params", type=json.loads, default={}, help="the job's parameters, as JSON")
        sub.add_argument("--disabled", action="store_true")

        sub = commands.add_parser("untrigger", help="remove a trigger")
        sub.add_argument("name")
        sub.add_argument("event_pattern")

    def handle(self, *args, action, **options):
        handler = getattr(self, "do_" + action.replace("-", "_"))
        try:
            handler(**options)
        except serializers.ValidationError as error:
            raise CommandError(json.dumps(error.detail)) from None

    def _source(self, name: str) -> WebhookSource:
        source = WebhookSource.objects.filter(name=name).first()
        if source is None:
            raise CommandError(f"no webhook source named {name!r} in the database (webhook_source list)")
        return source

    def do_list(self, **options):
        names = selectors.source_names()
        if not names:
            self.stdout.write("no webhook sources")
        rows = {source.name: source for source in WebhookSource.objects.prefetch_related("secrets", "triggers")}
        for name in names:
            source = config.load_source_config(name)
            row = rows.get(name)
            state = "enabled" if source.enabled else "disabled"
            rate = source.rate_per_minute or "unlimited"
            self.stdout.write(
                f"{name}  scheme={source.scheme.name} {state} origin={source.origin} "
                f"rate={rate}/min tolerance={source.tolerance_seconds}s"
            )
            for secret in row.secrets.all() if row else ():
                until = f" until {secret.expires_at:%Y-%m-%d %H:%M}" if secret.expires_at else ""
                status = "active" if secret.is_active() else "retired"
                self.stdout.write(f"  secret {secret.fingerprint} {status}{until}")
            if name in settings.WEBHOOK_SECRETS:
                self.stdout.write(f"  {len(settings.WEBHOOK_SECRETS[name])} secret(s) from the environment")
            for trigger in row.triggers.all() if row else ():
                enabled = "" if trigger.enabled else " (disabled)"
                self.stdout.write(
                    f"  on {trigger.event_pattern} → {trigger.job_kind} {json.dumps(trigger.params)}{enabled}"
                )

    def _changes(self, *, scheme, tolerance, enabled, **options) -> dict:
        fields = {"scheme": scheme, "tolerance_seconds": tolerance, "enabled": enabled}
        changes = {key: value for key, value in fields.items() if value is not None}
        if "rate" in options:  # given: a number, or "default" (None)
            changes["rate_per_minute"] = options["rate"]
        return changes

    def do_create(self, *, name, **options):
        source = sources.create_source(name=name, **self._changes(**options))
        self.stdout.write(f"created source {source.name} (scheme {source.scheme}); add a secret with add-secret")

    def do_update(self, *, name, **options):
        sources.update_source(source=self._source(name), **self._changes(**options))
        self.stdout.write(f"updated source {name}")

    def do_delete(self, *, name, **options):
        sources.delete_source(source=self._source(name))
        self.stdout.write(f"deleted source {name}; its receipts stay")

    def do_add_secret(self, *, name, generate, expires_in, **options):
        source = self._source(name)
        if generate:
            secret = sources.generate_secret(scheme=source.scheme)
        else:
            secret = sys.stdin.readline().strip()
        expires_at = timezone.now() + expires_in if expires_in else None
        stored = sources.add_secret(source=source, secret=secret, expires_at=expires_at)
        if generate:
            self.stdout.write(f"secret (shown once, give it to the sender): {secret}")
        self.stdout.write(f"added secret {stored.fingerprint} to {name}")

    def do_retire_secret(self, *, name, fingerprint, after, **options):
        source = self._source(name)
        secret = source.secrets.filter(fingerprint=fingerprint).first()
        if secret is None:
            raise CommandError(f"{name} has no secret {fingerprint!r} (webhook_source list)")
        sources.retire_secret(secret=secret, **({"after": after} if after else {}))
        self.stdout.write(f"secret {fingerprint} of {name} verifies until {secret.expires_at:%Y-%m-%d %H:%M:%S} UTC")

    def do_trigger(self, *, name, event_pattern, job_kind, params, disabled, **options):
        trigger = sources.set_trigger(
            source=self._source(name),
            event_pattern=event_pattern,
            job_kind=job_kind,
            params=params,
            enabled=not disabled,
        )
        self.stdout.write(f"{name}: {trigger.event_pattern} → {trigger.job_kind} {json.dumps(trigger.params)}")

    def do_untrigger(self, *, name, event_pattern, **options):
        trigger = WebhookTrigger.objects.filter(source=self._source(name), event_pattern=event_pattern).first()
        if trigger is None:
            raise CommandError(f"{name} has no trigger for {event_pattern!r}")
        sources.delete_trigger(trigger=trigger)
        self.stdout.write(f"{name}: removed the trigger for {event_pattern}")
