"""The Kubernetes manifests (deploy/kubernetes/) held to the code, with no cluster: each YAML
document is the Kubernetes object it claims to be and refers to objects and keys that exist;
every variable they set is one Bespin reads; the probes' paths answer; the commands are the
documented ones; a worker is given longer to stop than the longest job may run; KEDA watches
the queues the workers serve.

Commands: the README and docs/operations.md run Bespin from a checkout
(`.venv/bin/python manage.py …`), the image from its own Python (`python manage.py …`, as the
Dockerfile's CMD does). A container's command is held to a documented `manage.py <command>
<arguments>` or `./run.sh <command>` (the README's, production's in docs/operations.md, or the
image's CMD), and its interpreter to the image's.

What Bespin makes of the manifests' environment (the longest job timeout, the webhook sources,
the deployment checks) is read in processes of their own, given that environment and nothing
else of this one's.
"""

import ast
import base64
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from functools import cache
from urllib.parse import urlsplit

import pytest
import yaml

from bespin.testing.processes import ROOT
from jobs.execution.queue import QUEUE_NAME, QUEUE_NAMES, rq_queue

KUBERNETES = ROOT / "deploy" / "kubernetes"
KINDS = {
    "Deployment": "apps/v1",
    "Job": "batch/v1",
    "PodDisruptionBudget": "policy/v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "ScaledObject": "keda.sh/v1alpha1",
    "TriggerAuthentication": "keda.sh/v1alpha1",
}
OBJECTS = {
    ("ConfigMap", "bespin"),
    ("Secret", "bespin"),
    ("Deployment", "bespin-web"),
    ("Service", "bespin-web"),
    ("PodDisruptionBudget", "bespin-web"),
    ("Deployment", "bespin-worker"),
    ("PodDisruptionBudget", "bespin-worker"),
    ("Job", "bespin-migrate"),
    ("TriggerAuthentication", "bespin-redis"),
    ("ScaledObject", "bespin-worker"),
}
# The fields of a container and of a probe, as Kubernetes defines them (core/v1): a misspelt
# one would be refused by the API server, or dropped by an old one.
CONTAINER_FIELDS = {
    "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources",
    "resizePolicy", "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe",
    "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath",
    "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty",
}  # fmt: skip
PROBE_FIELDS = {
    "exec", "httpGet", "tcpSocket", "grpc", "initialDelaySeconds", "timeoutSeconds",
    "periodSeconds", "successThreshold", "failureThreshold", "terminationGracePeriodSeconds",
}  # fmt: skip
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
# The operator's full health: 503 while no worker runs, which is no reason to restart a server
# or take it out of service.
FULL_HEALTH = "/api/health"
# What the kubelet's probe sends as Host when the probe names none: the pod's address.
POD_ADDRESS = "10.1.2.3"


@cache
def documents() -> list[tuple[str, dict]]:
    """(file name, document) of every YAML document of the manifests, kustomization.yaml aside."""
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [(path.name, document) for document in yaml.safe_load_all(path.read_text()) if document]
    return found


def the(kind: str, name: str) -> dict:
    found = [doc for _, doc in documents() if doc.get("kind") == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} named {name} in the manifests"
    return found[0]


def kustomization() -> dict:
    return yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())


def workloads() -> list[dict]:
    return [doc for _, doc in documents() if doc["kind"] in ("Deployment", "Job")]


def containers() -> list[tuple[str, dict]]:
    """(workload name, container) of every container the workloads run, init containers too."""
    return [
        (workload["metadata"]["name"], c)
        for workload in workloads()
        for field in ("initContainers", "containers")
        for c in workload["spec"]["template"]["spec"].get(field, [])
    ]


def container(workload: str, name: str) -> dict:
    found = [c for w, c in containers() if w == workload and c["name"] == name]
    assert len(found) == 1, f"{len(found)} containers named {name} in {workload}"
    return found[0]


def secret_values(name: str) -> dict[str, str]:
    secret = the("Secret", name)
    decoded = {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}
    return {**decoded, **(secret.get("stringData") or {})}


def env_source(source: dict) -> dict[str, str]:
    """The variables one entry of a container's envFrom gives."""
    if "configMapRef" in source:
        return the("ConfigMap", source["configMapRef"]["name"])["data"]
    return secret_values(source["secretRef"]["name"])


def environment(c: dict) -> dict[str, str]:
    """The container's environment as Kubernetes builds it: envFrom's sources in order, then env."""
    env = {}
    for source in c.get("envFrom", []):
        env.update(env_source(source))
    for variable in c.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif ref := variable.get("valueFrom", {}).get("secretKeyRef"):
            env[variable["name"]] = secret_values(ref["name"])[ref["key"]]
        elif ref := variable.get("valueFrom", {}).get("configMapKeyRef"):
            env[variable["name"]] = the("ConfigMap", ref["name"])["data"][ref["key"]]
    return env


def image_environment() -> dict[str, str]:
    """What the Dockerfile's ENV lines set."""
    env = {}
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in shlex.split(line[len("ENV ") :]))
    return env


def filled(env: dict[str, str]) -> dict[str, str]:
    """The environment with the example Secret's empty values replaced, as an operator would."""
    example = secret_values("bespin")
    return {name: secrets.token_urlsafe(50) if name in example and not value else value for name, value in env.items()}


# Bespin's reading of an environment: the longest a job may run (any task loaded, and an
# entry of a kind no longer loaded, which runs under its queue's default timeout) and the
# webhook sources it defines.
VIEW = """
import json
import django
django.setup()
from django.conf import settings
from jobs import registry
timeouts = [kind.timeout for kind in registry.registered().values()]
timeouts += [queue["DEFAULT_TIMEOUT"] for queue in settings.RQ_QUEUES.values()]
print(json.dumps({"longest_timeout": max(timeouts), "webhook_sources": settings.WEBHOOK_SECRETS}))
"""


def bespin_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`python ARGS` in the checkout with the image's environment, then `env`, and no other."""
    env = {"PATH": os.environ["PATH"], "BESPIN_ENV_FILE": "", **image_environment(), **env}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def bespin_view(env: dict[str, str]) -> dict:
    result = bespin_process({**env, "DJANGO_SETTINGS_MODULE": "bespin.settings"}, "-c", VIEW)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# The variables Bespin reads, from its source: what os.environ and os.getenv are asked for,
# directly or through a function that hands them its first parameter (bespin/env.py's typed
# readers, the settings' own helpers), in every module that runs in a server or a worker; and
# what run.sh, which starts the server, reads.
PACKAGES = ("bespin", "accounts", "jobs", "schedules", "webhooks", "callbacks", "ops")


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _reads(call: ast.Call, readers: set[str]) -> bool:
    function = call.func
    if isinstance(function, ast.Name):
        return function.id in readers
    if isinstance(function, ast.Attribute):
        return function.attr in readers or (function.attr in ("get", "setdefault") and _is_environ(function.value))
    return False


def _readers(trees: list[ast.Module]) -> set[str]:
    readers = {"getenv"}
    while True:
        found = {
            function.name
            for tree in trees
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef) and function.args.args
            for call in ast.walk(function)
            if isinstance(call, ast.Call) and _reads(call, readers) and call.args
            and isinstance(call.args[0], ast.Name) and call.args[0].id == function.args.args[0].arg
        }  # fmt: skip
        if found <= readers:
            return readers
        readers |= found


@cache
def names_bespin_reads() -> frozenset[str]:
    paths = [ROOT / "manage.py"] + [
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if not {"tests", "testing", "migrations"} & set(path.relative_to(ROOT).parts)
    ]
    trees = [ast.parse(path.read_text()) for path in paths]
    readers = _readers(trees)
    names = set()
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Call) and _reads(node, readers) and node.args:
            argument = node.args[0]
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            argument = node.slice
        else:
            continue
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names.add(argument.value)
    # ${NAME:-default}, ${NAME-default}, ${NAME:?message}: run.sh's reads of its environment.
    names |= set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):?[-?]", (ROOT / "run.sh").read_text()))
    return frozenset(names)


def documented_commands() -> set[tuple[str, ...]]:
    """`manage.py <command> <arguments>` and `./run.sh <command>` as the README, the production
    section of docs/operations.md and the image's CMD write them."""
    operations = (ROOT / "docs" / "operations.md").read_text()
    production = operations.split("## Running in production", 1)[1].split("\n## ", 1)[0]
    cmd = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    text = "\n".join([(ROOT / "README.md").read_text(), production, *cmd])
    found = {("./run.sh", command) for command in re.findall(r"\./run\.sh (\w+)", text)}
    found |= {("manage.py", *words.split()) for words in re.findall(r"manage\.py((?: [\w-]+)+)", text)}
    return found


def test_every_document_is_the_kubernetes_object_it_claims_to_be():
    seen = []
    for path, doc in documents():
        kind = doc.get("kind")
        assert kind in KINDS, f"{path}: kind {kind!r} is none of {sorted(KINDS)}"
        assert doc.get("apiVersion") == KINDS[kind], f"{path}: {kind} is {KINDS[kind]}, not {doc.get('apiVersion')}"
        name = doc.get("metadata", {}).get("name")
        assert isinstance(name, str) and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), f"{path}: {name!r}"
        # The namespace is the operator's: where they apply the manifests, or their overlay's.
        assert "namespace" not in doc["metadata"], f"{path}: {kind} {name} names a namespace"
        seen.append((kind, name))
    assert sorted(seen) == sorted(OBJECTS)
    for _, doc in documents():
        if doc["kind"] in ("ConfigMap", "Secret"):
            values = {**doc.get("data", {}), **doc.get("stringData", {})}
            # Kubernetes takes strings only: an unquoted 1 or true would be refused.
            assert all(isinstance(value, str) for value in values.values()), f"{doc['kind']}: {values}"
    for workload in workloads():
        spec = workload["spec"]["template"]["spec"]
        assert spec["containers"], workload["metadata"]["name"]
        if workload["kind"] == "Job":
            assert spec["restartPolicy"] in ("Never", "OnFailure")
    for workload, c in containers():
        assert set(c) <= CONTAINER_FIELDS, f"{workload}/{c['name']}: unknown fields {set(c) - CONTAINER_FIELDS}"
        for probe in PROBES:
            if probe in c:
                unknown = set(c[probe]) - PROBE_FIELDS
                assert not unknown, f"{workload}/{c['name']} {probe}: unknown fields {unknown}"
    for _, doc in documents():
        if doc["kind"] == "PodDisruptionBudget":
            budgets = {"minAvailable", "maxUnavailable"} & set(doc["spec"])
            assert len(budgets) == 1, f"PodDisruptionBudget {doc['metadata']['name']}: one of {budgets}"


# Created once by its owner, never by a deploy: `apply -k` would overwrite the real one.
NOT_DEPLOYED = {"secret.example.yaml"}


def test_kustomization_lists_exactly_the_files_present_but_the_example_secret():
    present = sorted(path.name for path in KUBERNETES.glob("*.y*ml") if path.name != "kustomization.yaml")
    assert sorted(kustomization()["resources"]) == sorted(set(present) - NOT_DEPLOYED)
    assert NOT_DEPLOYED <= set(present)
    assert "namespace" not in kustomization()


KUSTOMIZE = (["kustomize", "build"] if shutil.which("kustomize") else None) or (
    ["kubectl", "kustomize"] if shutil.which("kubectl") else None
)


@pytest.mark.skipif(KUSTOMIZE is None, reason="neither kustomize nor kubectl is installed")
def test_kustomize_builds_the_objects_with_the_image_named():
    result = subprocess.run([*KUSTOMIZE, str(KUBERNETES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert {(doc["kind"], doc["metadata"]["name"]) for doc in built} == OBJECTS - {("Secret", "bespin")}
    (image,) = kustomization()["images"]
    images = {
        c["image"]
        for doc in built
        if doc["kind"] in ("Deployment", "Job")
        for c in doc["spec"]["template"]["spec"]["containers"]
    }
    assert images == {f"{image['newName']}:{image['newTag']}"}


def test_every_container_runs_the_image_as_its_unprivileged_user():
    (image,) = kustomization()["images"]
    user = [line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("USER ")][-1]
    for workload in workloads():
        spec = workload["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert str(spec["securityContext"]["runAsUser"]) == user
    for workload, c in containers():
        assert c["image"] == image["name"], f"{workload}/{c['name']}"


def test_selectors_match_the_pods_they_mean():
    def pods_selected(selector: dict) -> set[str]:
        return {
            workload["metadata"]["name"]
            for workload in workloads()
            if selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()
        }

    for workload in workloads():
        if workload["kind"] == "Deployment":
            selector = workload["spec"]["selector"]["matchLabels"]
            assert pods_selected(selector) == {workload["metadata"]["name"]}
    assert pods_selected(the("Service", "bespin-web")["spec"]["selector"]) == {"bespin-web"}
    assert pods_selected(the("PodDisruptionBudget", "bespin-web")["spec"]["selector"]["matchLabels"]) == {"bespin-web"}
    worker_budget = the("PodDisruptionBudget", "bespin-worker")["spec"]["selector"]["matchLabels"]
    assert pods_selected(worker_budget) == {"bespin-worker"}
    target = the("ScaledObject", "bespin-worker")["spec"]["scaleTargetRef"]
    assert (target.get("apiVersion", "apps/v1"), target.get("kind", "Deployment")) == ("apps/v1", "Deployment")
    assert the("Deployment", target["name"])
    container(target["name"], target["envSourceContainerName"])
    # KEDA sets the worker's replicas: a count in the Deployment would undo its scaling at each apply.
    assert "replicas" not in the("Deployment", target["name"])["spec"]


def test_the_server_listens_on_the_port_the_service_and_probes_use():
    web = container("bespin-web", "web")
    ports = {port["name"]: port["containerPort"] for port in web["ports"]}
    assert ports == {"http": int(environment(web)["PORT"])}
    for port in the("Service", "bespin-web")["spec"]["ports"]:
        assert port["targetPort"] in ports
    for probe in PROBES:
        assert web[probe]["httpGet"]["port"] in ports


def test_references_name_objects_and_keys_that_exist():
    for workload, c in containers():
        given = [set(env_source(source)) for source in c.get("envFrom", [])]
        # A variable two sources give would take the later one's value, silently.
        assert sum(map(len, given)) == len(set().union(*given)), f"{workload}/{c['name']}: a variable set twice"
        for variable in c.get("env", []):
            for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                if ref := variable.get("valueFrom", {}).get(field):
                    values = secret_values(ref["name"]) if kind == "Secret" else the(kind, ref["name"])["data"]
                    assert ref["key"] in values, f"{workload}/{c['name']}: {kind} {ref['name']} has no {ref['key']}"
    for ref in the("TriggerAuthentication", "bespin-redis")["spec"]["secretTargetRef"]:
        assert ref["key"] in secret_values(ref["name"]), ref
    for trigger in the("ScaledObject", "bespin-worker")["spec"]["triggers"]:
        the("TriggerAuthentication", trigger["authenticationRef"]["name"])


def test_every_variable_the_manifests_set_is_one_bespin_reads():
    read = names_bespin_reads()
    unknown = set()
    for workload, c in containers():
        env = environment(c)
        # <SOURCE>_WEBHOOK_SECRET: each must define a webhook source in Bespin's own reading.
        named = {name for name in env if name not in read}
        sources = bespin_view(filled(env))["webhook_sources"] if named else {}
        suffix = "_WEBHOOK_SECRET"
        unknown |= {
            f"{workload}/{c['name']}: {name}"
            for name in named
            if not (name.endswith(suffix) and name[: -len(suffix)].lower() in sources)
        }
    # Every key of the ConfigMap and the Secret reaches a container: none is set for nothing.
    reached = set().union(*(environment(c) for _, c in containers()))
    keys = set(the("ConfigMap", "bespin")["data"]) | set(secret_values("bespin"))
    assert keys <= reached, f"set for no container: {sorted(keys - reached)}"
    assert not unknown, f"variables no code of Bespin's reads: {sorted(unknown)}"


def test_the_reading_of_the_source_finds_what_bespin_reads_and_nothing_else():
    read = names_bespin_reads()
    # Through the typed readers, a helper of the settings' own, os.environ and run.sh.
    assert {"SECRET_KEY", "DEBUG", "BESPIN_JOB_RETENTION", "BESPIN_MAX_CONCURRENCY", "BESPIN_CALLBACK_TIMEOUT"} <= read
    assert {"BESPIN_ENV_FILE", "DJANGO_SETTINGS_MODULE"} <= read
    assert {"BESPIN_SERVER", "HOST"} <= read
    assert not {"SECRET_KEYS", "BESPIN_JOB_RETENTON", "VERSION", "INFO"} & read


@pytest.mark.django_db
def test_the_probes_paths_answer(client, settings):
    # With the ConfigMap's hosts: a probe whose Host Django refuses would get 400.
    settings.ALLOWED_HOSTS = environment(container("bespin-web", "web"))["ALLOWED_HOSTS"].split(",")
    answers = {}
    for workload, c in containers():
        for probe in PROBES:
            if get := c.get(probe, {}).get("httpGet"):
                host = {header["name"]: header["value"] for header in get.get("httpHeaders", [])}.get("Host")
                assert get["path"] != FULL_HEALTH, f"{workload}/{c['name']} {probe} uses the full health"
                response = client.get(get["path"], HTTP_HOST=host or POD_ADDRESS)
                answers[f"{workload}/{c['name']} {probe} {get['path']}"] = response.status_code
    assert len(answers) == len(PROBES)  # the web server's three
    assert set(answers.values()) == {200}, answers


def test_the_containers_run_the_documented_commands():
    documented = documented_commands()
    image_python = re.search(r"(\S+) manage\.py", (ROOT / "Dockerfile").read_text())[1].strip("\"'")
    commands = {}
    for workload, c in containers():
        command = [*c.get("command", []), *c.get("args", [])]
        if command and command[0] == image_python:
            command = command[1:]
        assert tuple(command) in documented, f"{workload}/{c['name']}: {command} is in no documentation"
        commands[workload] = command
    assert commands == {
        "bespin-web": ["./run.sh", "serve"],
        "bespin-worker": ["manage.py", "rqworker", QUEUE_NAME],
        "bespin-migrate": ["manage.py", "migrate", "--noinput"],
    }


def test_a_worker_is_given_longer_to_stop_than_the_longest_job_may_run():
    worker = the("Deployment", "bespin-worker")["spec"]["template"]["spec"]
    longest = bespin_view(filled(environment(container("bespin-worker", "worker"))))["longest_timeout"]
    assert worker["terminationGracePeriodSeconds"] > longest


def test_keda_scales_the_workers_on_every_queue_they_serve():
    scaled = the("ScaledObject", "bespin-worker")["spec"]
    worker = container("bespin-worker", scaled["scaleTargetRef"]["envSourceContainerName"])
    env = environment(worker)
    # `rqworker default` serves every priority's queue: KEDA must count them all.
    assert worker["command"][-1] == QUEUE_NAME
    assert sorted(trigger["metadata"]["listName"] for trigger in scaled["triggers"]) == sorted(
        rq_queue(name).key for name in QUEUE_NAMES
    )
    database = urlsplit(env["REDIS_URL"]).path.strip("/") or "0"
    for trigger in scaled["triggers"]:
        metadata = trigger["metadata"]
        assert trigger["type"] == "redis-sentinel"
        assert metadata["addressesFromEnv"] == "REDIS_SENTINELS" and "REDIS_SENTINELS" in env
        assert metadata["sentinelMasterFromEnv"] == "REDIS_SENTINEL_MASTER" and "REDIS_SENTINEL_MASTER" in env
        assert metadata["databaseIndex"] == database
        assert int(metadata["listLength"]) >= 1
    # Never none: the workers also run the clock, the recovery sweep and retention.
    assert scaled["minReplicaCount"] >= 1
    refs = the("TriggerAuthentication", "bespin-redis")["spec"]["secretTargetRef"]
    assert {ref["parameter"]: ref["key"] for ref in refs} == {
        "password": "REDIS_PASSWORD",
        "sentinelPassword": "REDIS_SENTINEL_PASSWORD",
    }


def test_the_example_secret_as_it_ships_runs_nothing_and_verifies_nothing():
    env = environment(container("bespin-web", "web"))
    result = bespin_process({**env, "DJANGO_SETTINGS_MODULE": "bespin.settings"}, "-c", VIEW)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    # With a key: each example webhook source exists, and holds no secret that could verify.
    sources = bespin_view({**env, "SECRET_KEY": secrets.token_urlsafe(50)})["webhook_sources"]
    examples = [name for name in secret_values("bespin") if name.endswith("_WEBHOOK_SECRET")]
    assert examples
    for name in examples:
        assert sources[name.removesuffix("_WEBHOOK_SECRET").lower()] == []


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """The static files collected, as the image's build does."""
    root = tmp_path_factory.mktemp("collected")
    env = {**filled(environment(container("bespin-web", "web"))), "BESPIN_STATIC_ROOT": str(root)}
    result = bespin_process(env, "manage.py", "collectstatic", "--noinput", "-v0")
    assert result.returncode == 0, result.stderr
    return root


def test_the_manifests_settings_pass_the_deployment_checks(collected):
    for workload, c in containers():
        env = {**filled(environment(c)), "BESPIN_STATIC_ROOT": str(collected)}
        result = bespin_process(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
        assert result.returncode == 0, f"{workload}/{c['name']}: {result.stdout}{result.stderr}"
