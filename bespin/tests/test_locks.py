"""Every way of installing Bespin installs from a lock: each package pinned, with hashes.
The runtime set (requirements.txt → requirements.lock) is what `make dev`, run.sh and the
image install; the dev set (requirements-dev.txt → requirements-dev.lock) adds what tests,
lints and benchmarks need, at the same versions."""

import re

import pytest

from bespin.testing.processes import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def _pins(name: str) -> dict[str, str]:
    return {package.lower(): version for package, version in PIN.findall((ROOT / name).read_text())}


def _entries(lock: str) -> list[str]:
    """Each package's block in a lock: its pin line and the hash lines after it."""
    return re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text().split("\n", 2)[2])


@pytest.mark.parametrize(
    ("wanted", "lock"), [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")]
)
def test_each_lock_holds_its_sets_pins_every_package_with_hashes(wanted, lock):
    locked = _pins(lock)
    for package, version in _pins(wanted).items():
        assert locked.get(package) == version, (
            f"{wanted} pins {package}=={version}, {lock} has {locked.get(package)}: make lock"
        )
    for entry in _entries(lock):
        assert "--hash=sha256:" in entry, f"no hash in {lock} for: {entry.splitlines()[0]}"


def test_the_dev_lock_has_every_runtime_package_at_its_runtime_version():
    dev = _pins("requirements-dev.lock")
    assert {p: v for p, v in _pins("requirements.lock").items() if dev.get(p) != v} == {}


def test_make_run_sh_and_the_image_install_from_the_locks():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements.lock" in makefile
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in makefile
    # make dev installs the runtime set only; the tests, lint and benchmarks the dev set.
    assert re.search(r"^dev: install ", makefile, re.M)
    for target in ("test", "lint", "bench"):
        assert re.search(rf"^{target}: install-dev\b", makefile, re.M), target
    assert "--require-hashes -r requirements.lock" in (ROOT / "run.sh").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in dockerfile
    assert "requirements-dev" not in dockerfile
    assert not re.search(r"pip install (?!.*--require-hashes)", makefile + dockerfile)
