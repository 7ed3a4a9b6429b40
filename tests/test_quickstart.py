"""The README's two quick-start commands and CI must not drift apart."""

from __future__ import annotations

import re

from tests.conftest import REPO


def quickstart_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^ {4}(\./\S.*)$", section, flags=re.M)


def test_readme_has_exactly_two_quickstart_commands() -> None:
    commands = quickstart_commands()
    assert len(commands) == 2, commands
    assert any(c.endswith(" demo") for c in commands)
    assert any(c.endswith(" test") for c in commands)


def test_ci_runs_the_readme_test_command_as_written() -> None:
    (test_command,) = [c for c in quickstart_commands() if c.endswith(" test")]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = [line.strip() for line in ci.splitlines() if not line.strip().startswith("#")]
    assert test_command in ci_lines


def test_dev_script_knows_both_commands() -> None:
    script = (REPO / "dev.sh").read_text(encoding="utf-8")
    assert "  demo)" in script
    assert "  test)" in script
