"""DESIGN.md §1: gui -> realtime -> engines, training -> realtime/engines; Qt only in gui."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    beside = Path(sys.executable).parent / "lint-imports"  # the environment's, even if not on PATH
    exe = str(beside) if beside.exists() else shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports (import-linter) is missing: pip install -e '.[dev]'")
    r = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 4 kept, 0 broken" in r.stdout


PACKAGES = ("realtime", "engines", "training", "gui")


def _modules():
    return [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]


def test_no_string_imports_in_the_packages():
    """Imports the contracts cannot see would make them pass for the wrong reason."""
    found = [f"{p.relative_to(ROOT)}:{i}" for p in _modules()
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if "import_module(" in line or "__import__(" in line]
    assert not found, found


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long, long
