"""R-EV-1: a published event schema only ever changes compatibly, and every consumer reads every version
still in the registry (docs/event-versions.md is the migration path these tests enforce).

- Every `schemas/<source>/<Event>/v<N>.json` is compared with every content it has had in git history:
  a consumer validating with today's file must still accept every event that was valid before
  (`schemas.compat.compatible`). So is the schema the contracts generate NOW, so a contract edit is
  caught before anyone regenerates: an incompatible change belongs in a new version.
- Events built from each version's schema (required fields only, and every field) are read by
  `REGISTRY.read` and upcast to the newest model; and every consumer (`functions/*/on_*.py`) reads every
  registered version of every event it handles.

History needs git: outside a work tree (a source tarball) the history comparison is skipped, saying so;
a shallow clone compares with the history it has and warns that older versions went unchecked.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import shutil
import subprocess
import uuid
import warnings
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from schemas.compat import compatible
from schemas.generate import schema_of, schema_path
from shared.contracts import REGISTRY, Contract, Envelope
from shared.events.consumer import Consumer

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILES = sorted(ROOT.glob("schemas/*/*/v*.json"))
DOC = "docs/event-versions.md"


# -- git history ---------------------------------------------------------------------------------------------
def _git(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}  # the repo at `cwd`, nothing else
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False)


def history_unavailable(root: Path = ROOT) -> str | None:
    """Why git history cannot be read here, or None when it can."""
    if shutil.which("git") is None:
        return "git is not installed, so the published versions of the schemas cannot be read"
    inside = _git("rev-parse", "--is-inside-work-tree", cwd=root)
    if inside.stdout.strip() != "true":
        detail = inside.stderr.strip().splitlines()[:1] or ["not a work tree"]
        return f"git cannot read the history of {root} ({detail[0]}): is this a source export?"
    if _git("rev-parse", "--verify", "--quiet", "HEAD", cwd=root).returncode != 0:
        return "the repository has no commits yet, so nothing has been published"
    return None


def published(relpath: str, root: Path = ROOT) -> list[tuple[str, str, dict]]:
    """Every distinct content `relpath` has had in history (following renames), newest first, each with
    the commit that first published it: (short sha, commit subject, parsed schema)."""
    log = _git("log", "--follow", "--format=%x00%H%x00%s", "--name-only", "--", relpath, cwd=root)
    if log.returncode != 0:
        raise RuntimeError(f"git log failed for {relpath}: {log.stderr.strip()}")
    first_published: dict[str, tuple[str, str]] = {}  # content -> its oldest commit (the log is newest first)
    path = relpath
    for entry in log.stdout.split("\x00")[1:]:
        if re.fullmatch(r"[0-9a-f]{40}", entry):
            sha = entry
            continue
        subject, _, names = entry.partition("\n")
        path = next((n for n in names.splitlines() if n.strip()), path)  # a merge lists no names: same path
        shown = _git("show", f"{sha}:{path}", cwd=root)
        if shown.returncode == 0:  # else the commit deleted it
            first_published[shown.stdout] = (sha[:10], subject)
    return [(sha, subject, json.loads(content)) for content, (sha, subject) in first_published.items()]


@functools.cache
def _history(relpath: str) -> list[tuple[str, str, dict]]:
    return published(relpath)


@pytest.fixture(scope="module")
def history() -> Any:
    reason = history_unavailable()
    if reason is not None:
        pytest.skip(f"schema history not checked: {reason}")
    if _git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        warnings.warn(
            "shallow clone: schemas are only compared with the history this clone has; fetch the whole history "
            "(git fetch --unshallow, or fetch-depth: 0 in CI) to check every published version",
            stacklevel=1,
        )
    return _history


# -- what a failure tells the developer ---------------------------------------------------------------------
def _name_version(path: Path) -> tuple[str, int]:
    return path.parent.name, int(path.stem.removeprefix("v"))


def new_version_advice(name: str, version: int) -> str:
    contract = next((c for c in REGISTRY.contracts if (c.name, c.version) == (name, version)), None)
    module = f"functions/{contract.model.__module__.replace('.', '/')}.py" if contract else "functions/shared/contracts"
    model = contract.model.__name__ if contract else f"{name}V{version}"
    latest = REGISTRY.latest.get(name, version)
    nxt = latest + 1
    return (
        f"{name} v{version} is published: events of it may still sit in queues, dead-letter queues and the lake, "
        f"and every consumer must go on reading them. Keep {model} as published and make this change a new "
        f"version instead: add {name}V{nxt} in {module}, register ('{name}', {nxt}) in REGISTRY with an upcaster "
        f"from v{latest} to v{nxt} (like TaskCreated v1 -> v2), then run `python schemas/generate.py`. "
        f"Only an optional field (with a default) may be added to a published version. See {DOC}."
    )


def _failure(subject: str, reasons: list[str], name: str, version: int) -> str:
    return "\n".join([subject, *(f"  - {reason}" for reason in reasons), new_version_advice(name, version)])


# -- 1. published schemas only change compatibly -----------------------------------------------------------
@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: str(p.relative_to(ROOT / "schemas")))
def test_r_ev_1_a_published_schema_file_only_changes_compatibly(path, history):
    relpath = str(path.relative_to(ROOT))
    current = json.loads(path.read_text())
    name, version = _name_version(path)
    for sha, subject, old in history(relpath):
        reasons = compatible(old, current)
        assert not reasons, _failure(
            f"{relpath} no longer accepts every event valid under the version published in {sha} ({subject}):",
            reasons, name, version,
        )  # fmt: skip


@pytest.mark.parametrize("contract", REGISTRY.contracts, ids=lambda c: f"{c.name}-v{c.version}")
def test_r_ev_1_the_contracts_do_not_break_a_published_version(contract: Contract):
    """The schema the contract generates now, against every published content of its file (or, without git
    history, the file on disk): a contract edit that breaks a published version fails here, before
    anyone regenerates the schemas."""
    relpath = str(schema_path(contract).relative_to(ROOT))
    generated = schema_of(contract)
    if history_unavailable() is None:
        baselines = [(f"commit {sha} ({subject})", old) for sha, subject, old in _history(relpath)]
    elif schema_path(contract).exists():
        baselines = [("the committed file", json.loads(schema_path(contract).read_text()))]
    else:
        baselines = []
    for where, old in baselines:
        reasons = compatible(old, generated)
        assert not reasons, _failure(
            f"{contract.model.__name__} now generates a schema that breaks {relpath} as published in {where}:",
            reasons, contract.name, contract.version,
        )  # fmt: skip


# -- 2. every registered version is read and upcast to the newest ---------------------------------------------
class _Sampler:
    """A value valid under a JSON Schema: `full` fills every property (and picks non-null branches),
    otherwise only what is required (null where allowed) — the two ends of what a producer may send."""

    FORMATS = {
        "uuid": lambda: str(uuid.uuid4()),
        "date": lambda: "2026-11-27",
        "date-time": lambda: "2026-11-27T10:00:00Z",
        "email": lambda: "popug@example.com",
        "uri": lambda: "https://example.com/",
    }

    def __init__(self, root: dict, *, full: bool) -> None:
        self.root, self.full = root, full

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            target: Any = self.root
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            return self.resolve({**schema["allOf"][0], **{k: v for k, v in schema.items() if k != "allOf"}})
        return schema

    def value(self, schema: dict, where: str) -> Any:
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                branches = [self.resolve(b) for b in schema[keyword]]
                nulls = [b for b in branches if b.get("type") == "null"]
                others = [b for b in branches if b.get("type") != "null"]
                chosen = (others or nulls)[0] if self.full else (nulls or others)[0]
                return self.value(chosen, where)
        kind = schema.get("type")
        if isinstance(kind, list):
            others = [k for k in kind if k != "null"] or ["null"]
            kind = others[0] if self.full or "null" not in kind else "null"
        if kind == "object" or "properties" in schema:
            required = schema.get("required", [])
            return {
                name: self.value(sub, f"{where}.{name}")
                for name, sub in schema.get("properties", {}).items()
                if self.full or name in required
            }
        if kind == "array":
            count = max(schema.get("minItems", 0), 1 if self.full else 0)
            return [self.value(schema.get("items", {}), f"{where}[]") for _ in range(count)]
        if kind == "string":
            return self.string(schema, where)
        if kind in ("integer", "number"):
            low = schema.get("minimum", 1)
            return low + 1 if schema.get("exclusiveMinimum") is True else low
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        raise AssertionError(f"{where}: cannot build a sample for {schema}; extend _Sampler in {__file__}")

    def string(self, schema: dict, where: str) -> str:
        if "format" in schema:
            make = self.FORMATS.get(schema["format"])
            assert make, f"{where}: no sample for format {schema['format']!r}; add it to _Sampler.FORMATS"
            return make()
        if "pattern" in schema:
            pattern = schema["pattern"]
            alternatives = re.fullmatch(r"\^\(([^()\\]*)\)\$", pattern)
            candidates = [*(alternatives[1].split("|") if alternatives else []), "sample", "UBERPOP-1", "A"]
            for candidate in candidates:
                if re.search(pattern, candidate):
                    return candidate
            raise AssertionError(f"{where}: no sample matches the pattern {pattern!r}; extend _Sampler.string")
        return "sample".ljust(schema.get("minLength", 0), "x")


def samples(schema: dict) -> dict[str, dict]:
    """A minimal and a full event under `schema`, each checked against the schema itself."""
    built = {}
    for kind, full in (("required fields only", False), ("every field", True)):
        event = _Sampler(schema, full=full).value(schema, "event")
        jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(event)
        built[kind] = event
    return built


def _read_as_newest(name: str, version: int, schema: dict, origin: str) -> None:
    newest = REGISTRY.contract(name, REGISTRY.latest[name]).model
    for kind, event in samples(schema).items():
        try:
            read = REGISTRY.read(Envelope.model_validate(event))
        except Exception as error:
            raise AssertionError(
                f"{name} v{version} ({origin}), {kind}: {json.dumps(event['data'])} is valid under the schema "
                f"but REGISTRY.read refused it: {error}"
            ) from error
        assert isinstance(read, newest), f"{name} v{version} read as {type(read).__name__}, not {newest.__name__}"


@pytest.mark.parametrize("contract", REGISTRY.contracts, ids=lambda c: f"{c.name}-v{c.version}")
def test_r_ev_1_every_registered_version_is_read_and_upcast_to_the_newest(contract: Contract):
    """From the schema the contract generates, and from every content of its file ever published."""
    _read_as_newest(contract.name, contract.version, schema_of(contract), "its schema")
    if history_unavailable() is None:
        relpath = str(schema_path(contract).relative_to(ROOT))
        for sha, _, old in _history(relpath):
            _read_as_newest(contract.name, contract.version, old, f"as published in {sha}")


def test_r_ev_1_every_version_below_the_newest_has_an_upcaster_to_the_next():
    missing = [
        f"{name} v{version} -> v{version + 1}"
        for name, latest in REGISTRY.latest.items()
        for version in range(min(c.version for c in REGISTRY.contracts if c.name == name), latest)
        if (name, version) not in REGISTRY._upcasters or (name, version + 1) not in REGISTRY._by_key
    ]
    assert not missing, f"versions that cannot reach the newest (register the version and its upcaster): {missing}"


# -- 3. every consumer reads every registered version of what it handles -------------------------------------
def _consumer_modules() -> list[str]:
    return sorted(
        f"{path.parent.name}.{path.stem}"
        for path in (ROOT / "functions").glob("*/on_*.py")
        if path.parent.name != "shared"
    )


def _consumers() -> list[tuple[str, Consumer]]:
    found = []
    for module_name in _consumer_modules():
        module = importlib.import_module(module_name)
        found += [(f"{module_name}.{attr}", obj) for attr, obj in vars(module).items() if isinstance(obj, Consumer)]
    return found


def test_every_consumer_module_is_found():
    """Consumers are discovered as functions/<context>/on_*.py; one built elsewhere would go unchecked."""
    building = {
        f"{path.parent.name}.{path.stem}"
        for path in (ROOT / "functions").glob("*/*.py")
        if path.parent.name != "shared" and re.search(r"=\s*Consumer\(", path.read_text())
    }
    assert building, "no Consumer found under functions/"
    outside = building - set(_consumer_modules())
    assert not outside, f"consumers outside functions/*/on_*.py: {outside}"
    assert {name.rsplit(".", 1)[0] for name, _ in _consumers()} == building


@pytest.mark.parametrize(("name", "consumer"), _consumers(), ids=[name for name, _ in _consumers()])
def test_r_ev_1_every_consumer_reads_every_registered_version_of_what_it_handles(name: str, consumer: Consumer):
    for event_name in consumer.handlers:
        assert event_name in REGISTRY.latest, (
            f"{name} handles {event_name}, which is not in the registry: a dropped event, or a typo"
        )
        for contract in (c for c in REGISTRY.contracts if c.name == event_name):
            _read_as_newest(event_name, contract.version, schema_of(contract), f"handled by {name}")


# -- the history walk itself, on a throwaway repository --------------------------------------------------------
def test_the_history_walk_finds_every_published_content_and_the_check_refuses_a_breaking_one(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]

    def commit(relpath: str, schema: dict, message: str) -> None:
        (repo / relpath).parent.mkdir(parents=True, exist_ok=True)
        (repo / relpath).write_text(json.dumps(schema))
        assert _git("add", "-A", cwd=repo).returncode == 0
        assert _git(*identity, "commit", "-q", "-m", message, cwd=repo).returncode == 0

    assert _git("init", "-q", cwd=repo).returncode == 0
    assert history_unavailable(repo) == "the repository has no commits yet, so nothing has been published"
    v1 = schema_of(REGISTRY.contract("TaskAssigned", 1))
    widened = json.loads(json.dumps(v1))
    widened["properties"]["data"]["properties"]["reason"]["enum"].append("reopened")
    commit("schemas/x/TaskAssigned/v1.json", v1, "publish")
    commit("schemas/x/TaskAssigned/v1.json", widened, "add a reason")
    commit("schemas/x/TaskAssigned/v1.json", widened | {"title": "same, retitled"}, "retitle")
    assert _git("mv", "schemas/x", "schemas/ates.tasks", cwd=repo).returncode == 0
    assert _git(*identity, "commit", "-q", "-m", "move", cwd=repo).returncode == 0

    assert history_unavailable(repo) is None
    found = published("schemas/ates.tasks/TaskAssigned/v1.json", repo)
    assert [subject for _, subject, _ in found] == ["retitle", "add a reason", "publish"]
    narrowed = json.loads(json.dumps(v1))
    narrowed["properties"]["data"]["properties"]["reason"]["enum"] = ["created"]
    assert [compatible(old, narrowed) for _, _, old in found] == [
        ['data.reason: enum value(s) ["shuffle", "reopened"] removed'],
        ['data.reason: enum value(s) ["shuffle", "reopened"] removed'],
        ['data.reason: enum value(s) ["shuffle"] removed'],
    ]
