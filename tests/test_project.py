"""The README's commands and CI stay in step."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.DOTALL)


def test_readme_starts_with_setup_commands():
    commands = _readme_commands()
    assert "hbmep-pymc fit" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = _readme_commands()[1].strip()
    assert test_command in ci.splitlines()


def test_bundled_data_licence_ships_beside_it():
    folder = ROOT / "hbmep_pymc" / "datasets"
    assert (folder / "mock_data.csv").exists()
    assert "Copyright (c) 2024 hbmep" in (folder / "LICENSE-mock_data.txt").read_text(encoding="utf-8")
