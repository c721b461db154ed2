"""checkov on template.yaml against the findings we accept (tests/contract/accepted_findings.yaml, R-SEC-6).

`python -m tests.contract.checkov_findings` (run by `make lint`) prints every finding that is not accepted, and
every accepted entry that matches nothing any more, and exits 1 if there is either. checkov runs from its own
virtualenv (.tools/checkov), offline: no download of its guidelines or external checks.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
ACCEPTED = Path(__file__).with_name("accepted_findings.yaml")


def findings(template: Path = ROOT / "template.yaml") -> set[tuple[str, str]]:
    """(check id, "Type.LogicalId") of every failed check."""
    result = subprocess.run(
        [str(CHECKOV), "-f", str(template), "--framework", "cloudformation", "--quiet", "--compact",
         "--skip-download", "-o", "json"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"}, timeout=300,
    )  # fmt: skip
    if result.returncode not in (0, 1):  # 1: some checks failed
        raise RuntimeError(f"checkov failed ({result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    return {(f["check_id"], f["resource"]) for r in reports for f in r.get("results", {}).get("failed_checks", [])}


def unaccepted(found: set[tuple[str, str]], accepted: list[dict]) -> tuple[list[str], list[str]]:
    """The findings no entry accepts, and the entries that accept nothing (stale)."""

    def accepts(entry: dict, check: str, resource: str) -> bool:
        return entry["check"] == check and any(fnmatch.fnmatchcase(resource, p) for p in entry["resources"])

    new = sorted(f"{check} {resource}" for check, resource in found
                 if not any(accepts(entry, check, resource) for entry in accepted))  # fmt: skip
    stale = [f"{e['check']} {e['resources']}" for e in accepted if not any(accepts(e, *f) for f in found)]
    return new, stale


def main() -> int:
    accepted = yaml.safe_load(ACCEPTED.read_text())
    new, stale = unaccepted(findings(), accepted)
    for line in new:
        print(f"checkov: new finding {line}: fix it, or accept it with a reason in {ACCEPTED.relative_to(ROOT)}")
    for line in stale:
        print(f"checkov: accepted {line} matches nothing any more: remove it from {ACCEPTED.relative_to(ROOT)}")
    return 1 if new or stale else 0


if __name__ == "__main__":
    sys.exit(main())
