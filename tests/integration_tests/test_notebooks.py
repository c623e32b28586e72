"""Execute the notebooks top to bottom with the venv's kernel (each starts its own sandbox)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_three_notebooks() -> None:
    assert [p.stem for p in NOTEBOOKS] == ["01_quickstart", "02_prd_audit", "03_docs_discovery"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    # ipykernel's built-in "python3" spec starts the interpreter running this test;
    # the probe proves it (sys.prefix differs between the venv and the base Python).
    book.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    client = NotebookClient(
        book,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError (with the cell and traceback) on failure
    prefix = "".join(o.get("text", "") for o in book.cells[0].outputs).strip()
    assert prefix == sys.prefix
