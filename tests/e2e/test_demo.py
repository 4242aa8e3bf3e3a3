"""`leadq demo`, the README's first command, on both sandboxes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


def demo(crm: str, workdir: Path) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "sync.cli", "demo", "--crm", crm, "--leads", "600"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    return completed.stdout


def number_after(label: str, text: str, section: str) -> int:
    found = re.search(rf"{re.escape(label)}\s+(\d+)", text.split(section, 1)[1])
    assert found, f"no {label!r} after {section!r}"
    return int(found.group(1))


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_the_demo_syncs_a_sandbox_and_tells_what_changed_and_who_got_which_leads(
    crm: str, tmp_path: Path
) -> None:
    output = demo(crm, tmp_path)
    pulled = number_after("leads pulled", output, "1. Full sync")
    assert pulled > 300
    assert number_after("written", output, "1. Full sync") == pulled
    assert number_after("failed", output, "1. Full sync") == 0
    assert "leads promoted to MQL" in output
    assert "Who got the new MQLs, and why" in output
    assert re.search(r"(round-robin|least-loaded|fixed) → [A-Z]\w+ [A-Z]\w+", output)
    assert not re.search(r"[\w.]{2,}@acme-saas\.example", output)  # no full e-mail address
    incremental = output.split("3. Incremental sync", 1)[1]
    assert number_after("failed", incremental, "Sync incremental") == 0
    assert number_after("written", incremental, "Sync incremental") < pulled / 4
    assert list((tmp_path / "out").glob(f"demo-{crm}-*.db"))
