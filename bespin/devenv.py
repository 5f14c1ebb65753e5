"""The local environment file `make dev` writes once: `.env.dev` at the top of the checkout.

It holds development settings (DEBUG=1, a generated SECRET_KEY, the example app) so that
`.venv/bin/python manage.py …` works in a fresh clone as the README shows. manage.py reads it
here and run.sh reads it the same way; a variable already set in the environment wins.
`BESPIN_ENV_FILE` names another file, or none when empty (the tests). Git and Docker ignore
the file: it never reaches a commit or an image, and `manage.py check --deploy` (`make build`)
refuses settings that came from it (bespin.E003).

The format is one `NAME=value` a line, taken literally (no quotes, no expansion); blank
lines and lines starting with `#` are skipped; of two lines for one name, the later wins (so
`echo NAME=value >> .env.dev` changes a setting).
"""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ".env.dev"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load_env_file() -> Path | None:
    """Set the file's variables that the environment does not already set; the file read, if any."""
    named = os.environ.get("BESPIN_ENV_FILE", DEFAULT)
    if not named:
        return None
    path = ROOT / named
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    values = {}
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")  # a file saved with CRLF reads as run.sh reads it
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, equals, value = line.partition("=")
        if not equals or not _NAME.fullmatch(name):
            raise SystemExit(f"{path}:{number}: expected NAME=value, not {line!r}")
        values[name] = value
    for name, value in values.items():
        os.environ.setdefault(name, value)
    # For the deployment check that refuses it in production (bespin.E003).
    os.environ["BESPIN_ENV_FILE_READ"] = str(path)
    return path
