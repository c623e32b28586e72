"""The wheel contains what the source tree has: every package, py.typed, data files."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS.get("package-dir", {})


def _package_name(directory: Path) -> str:
    """Dotted name of a source directory, honouring ``package-dir`` remaps."""
    relative = directory.relative_to(ROOT).as_posix()
    for name, source in sorted(PACKAGE_DIR.items(), key=lambda item: -len(item[1])):
        if relative == source or relative.startswith(source + "/"):
            rest = relative[len(source) :].strip("/")
            return ".".join(filter(None, [name, rest.replace("/", ".")]))
    return relative.replace("/", ".")


def _source_packages() -> dict[str, Path]:
    found = {}
    for top in ("confluence_agent", "workflows"):
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found[_package_name(init.parent)] = init.parent
    return found


def _source_dir(package: str) -> Path:
    for name, source in PACKAGE_DIR.items():
        if package == name or package.startswith(name + "."):
            return ROOT / source / package[len(name) :].strip(".").replace(".", "/")
    return ROOT / package.replace(".", "/")


def test_workflows_is_installed_as_a_subpackage() -> None:
    assert PACKAGE_DIR.get("confluence_agent.workflows") == "workflows"
    assert _package_name(ROOT / "workflows") == "confluence_agent.workflows"


def test_every_package_directory_is_listed() -> None:
    missing = sorted(set(_source_packages()) - set(SETUPTOOLS["packages"]))
    assert not missing, (
        f"add {missing} to [tool.setuptools] packages in pyproject.toml, "
        "or they will be missing from the wheel"
    )


def test_every_listed_package_exists() -> None:
    for package in SETUPTOOLS["packages"]:
        assert (_source_dir(package) / "__init__.py").is_file(), package


def test_py_typed_ships() -> None:
    assert (ROOT / "confluence_agent" / "py.typed").is_file()
    assert "py.typed" in SETUPTOOLS["package-data"]["confluence_agent"]


@pytest.mark.parametrize("package", sorted(_source_packages()))
def test_non_python_files_are_declared_package_data(package: str) -> None:
    directory = _source_packages()[package]
    patterns = SETUPTOOLS.get("package-data", {}).get(package, [])
    undeclared = [
        path.name
        for path in directory.iterdir()
        if path.is_file()
        and path.suffix not in (".py", ".pyc")
        and not any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)
    ]
    assert not undeclared, f"{package}: add {undeclared} to [tool.setuptools.package-data]"
