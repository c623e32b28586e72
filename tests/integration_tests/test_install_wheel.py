"""Build the wheel, install it elsewhere, and import from outside the repository.

Editable installs hide packaging mistakes: setuptools' editable finder serves any
``confluence_agent.*`` module straight from the source tree. It is a meta-path
finder placed *after* ``PathFinder``, so a wheel installed on ``PYTHONPATH`` wins
for modules it contains, but a subpackage missing from the wheel would silently be
imported from the repo. Hence every module's ``__file__`` is checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
    "packages"
]

PROBE = """
import importlib, json, sys
names = json.loads(sys.argv[1])
files = {name: importlib.import_module(name).__file__ for name in names}
finders = [getattr(f, "__name__", type(f).__name__) for f in sys.meta_path]
print(json.dumps({"files": files, "finders": finders}))
"""


def _probe(cwd: Path, env: dict[str, str]) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(PACKAGES)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy: an in-tree build leaves build/ and *.egg-info in the repo,
    # and a stale build/lib could mask a missing package.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    for name in ("confluence_agent", "workflows"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheelhouse")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    wheels = list(out.glob("confluence_agent-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.mark.slow
def test_wheel_installs_and_imports_from_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (target / "confluence_agent" / "py.typed").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env()
    env["PYTHONPATH"] = str(target)
    data = _probe(elsewhere, env)

    finders = data["finders"]
    assert isinstance(finders, list)
    editable = [i for i, name in enumerate(finders) if "Editable" in str(name)]
    # The premise of this test: PathFinder (PYTHONPATH) is consulted before the editable finder.
    assert finders.index("PathFinder") < min(editable, default=len(finders))

    files = data["files"]
    assert isinstance(files, dict)
    wrong = {name: path for name, path in files.items() if not str(path).startswith(str(target))}
    assert not wrong, f"imported from outside the wheel (missing from the wheel?): {wrong}"


@pytest.mark.slow
def test_editable_install_imports_from_outside_the_repo(tmp_path: Path) -> None:
    data = _probe(tmp_path, _clean_env())
    files = data["files"]
    assert isinstance(files, dict)
    assert files["confluence_agent"] == str(ROOT / "confluence_agent" / "__init__.py")
    assert files["confluence_agent.workflows"] == str(ROOT / "workflows" / "__init__.py")
