"""The docs' screenshots and what each page in them is made of.

The browser tests take them (bespin/tests/test_browser_dashboard.py) and write, beside them,
manifest.json: for each image its own hash, the page's template, and the hash of every file
the page is made of (that template, the templates it extends and includes, and the
stylesheet and scripts they load, with the scripts' imports). bespin/tests/test_screenshots.py
compares that with the files as they are, so that a change to a page fails until its
screenshots are taken again, with no need for the repository's history.
"""

import hashlib
import json
import re
from pathlib import Path

from django.contrib.staticfiles import finders
from django.template import TemplateDoesNotExist, loader
from django.template.library import InclusionNode
from django.template.loader_tags import ExtendsNode, IncludeNode
from django.templatetags.static import StaticNode

from bespin.testing.processes import ROOT

SHOTS = ROOT / "docs" / "screenshots"
MANIFEST_NAME = "manifest.json"
# The pages that show screenshots.
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
RETAKE = "BESPIN_SCREENSHOTS=docs/screenshots make test ARGS=bespin/tests/test_browser_dashboard.py"

_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img\s[^>]*src=\"([^\"]+)\"")
# `import … from "./live.js"` and `import "./x.js"`: the page scripts' own modules.
_JS_IMPORT = re.compile(r"""^\s*import\s+(?:[^'";]*?\s+from\s+)?["'](\.{1,2}/[^"']+)["']""", re.M)


def referenced() -> dict[str, list[str]]:
    """The images in docs/screenshots/ that README.md and docs/*.md show: name → the docs."""
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        for match in _IMAGE.finditer(doc.read_text()):
            target = (doc.parent / (match.group(1) or match.group(2))).resolve()
            if target.parent == SHOTS:
                found.setdefault(target.name, []).append(str(doc.relative_to(ROOT)))
    return found


def _constant(expression, what: str) -> str:
    # A template name or static path written as a literal; a variable one cannot be followed.
    if not isinstance(expression.var, str) or expression.filters:
        raise ValueError(f"{what} is not a literal ({expression.token!r}): list its files another way")
    return expression.var


def _template_parts(name: str, templates: set[Path], statics: set[Path]) -> None:
    template = loader.get_template(name).template
    path = Path(template.origin.name).resolve()
    if path in templates:
        return
    templates.add(path)
    nodes = template.nodelist
    for node in nodes.get_nodes_by_type(ExtendsNode):
        _template_parts(_constant(node.parent_name, f"extends in {name}"), templates, statics)
    for node in nodes.get_nodes_by_type(IncludeNode):
        _template_parts(_constant(node.template, f"include in {name}"), templates, statics)
    for node in nodes.get_nodes_by_type(InclusionNode):
        if not isinstance(node.filename, str):
            raise ValueError(f"an inclusion tag in {name} renders a template object: list its files another way")
        _template_parts(node.filename, templates, statics)
    for node in nodes.get_nodes_by_type(StaticNode):
        static = _constant(node.path, f"static in {name}")
        found = finders.find(static)
        if found is None:
            raise ValueError(f"{name} loads {static}, which no static files finder finds")
        _script_parts(Path(found).resolve(), statics)


def _script_parts(path: Path, statics: set[Path]) -> None:
    if path in statics:
        return
    statics.add(path)
    if path.suffix == ".js":
        for module in _JS_IMPORT.findall(path.read_text()):
            _script_parts((path.parent / module).resolve(), statics)


def page_sources(template_name: str) -> list[str]:
    """The project's files a page rendered from `template_name` is made of, relative to the
    repository: its templates (extended, included, and those of inclusion tags), and the
    static files they load, with the modules those scripts import."""
    templates: set[Path] = set()
    statics: set[Path] = set()
    _template_parts(template_name, templates, statics)
    # Django's own templates and files come with its pinned version, not from this repository.
    return sorted(str(path.relative_to(ROOT)) for path in templates | statics if path.is_relative_to(ROOT))


def file_hash(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix != ".png":
        data = data.replace(b"\r\n", b"\n")  # a checkout with Windows line endings is the same page
    return hashlib.sha256(data).hexdigest()


def fingerprint(template_name: str) -> dict[str, str]:
    """Each source file of the page (page_sources) → its hash."""
    return {name: file_hash(ROOT / name) for name in page_sources(template_name)}


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST_NAME
    return json.loads(path.read_text()) if path.exists() else {}


def write_manifest(directory: Path, taken: dict[str, str]) -> None:
    """Record the screenshots just taken into `directory` (image name → the page's template),
    keeping the entries of the others that are still there."""
    manifest = {name: entry for name, entry in read_manifest(directory).items() if (directory / name).exists()}
    for name, template_name in taken.items():
        manifest[name] = {
            "page": template_name,
            "image": file_hash(directory / name),
            "sources": fingerprint(template_name),
        }
    text = json.dumps(dict(sorted(manifest.items())), indent=2, sort_keys=True)
    (directory / MANIFEST_NAME).write_text(text + "\n")


def stale(directory: Path, names) -> list[str]:
    """What is wrong with the screenshots `names` in `directory`, one line each: missing, not
    taken by the browser tests (not in the manifest, or another image than the one they
    took), or taken before a change to a file their page is made of."""
    manifest = read_manifest(directory)
    found = []
    for name in sorted(names):
        entry = manifest.get(name)
        if not (directory / name).exists():
            found.append(f"{name}: missing")
        elif entry is None:
            found.append(f"{name}: not in {MANIFEST_NAME}, so no browser test took it")
        elif file_hash(directory / name) != entry["image"]:
            found.append(f"{name}: not the image the browser tests took")
        else:
            try:
                now = fingerprint(entry["page"])
            except TemplateDoesNotExist:
                found.append(f"{name}: its page's template {entry['page']} is gone")
                continue
            then = entry["sources"]
            changed = sorted(path for path in now.keys() | then.keys() if now.get(path) != then.get(path))
            if changed:
                found.append(f"{name}: taken before the latest change to {', '.join(changed)}")
    return found


class Camera:
    """Takes the screenshots of one browser test module into `directory`, and records them in
    its manifest when `save()` is called."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.taken: dict[str, str] = {}

    def take(self, target, name: str, *, template: str, **options) -> None:
        """Screenshot `target` (a Playwright page or locator) as `name`: a page rendered from
        `template`, whose files the manifest records."""
        target.screenshot(path=self.directory / name, **options)
        self.taken[name] = template

    def save(self) -> None:
        write_manifest(self.directory, self.taken)
