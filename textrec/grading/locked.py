"""Locked cells: the provided set-up cells and the check cells of each exercise.

When ``textrec exercises`` generates ``exercises/``, each locked cell is fingerprinted
(SHA-256 of its source): the fingerprints go into the exercise's notebook metadata
(``metadata.textrec.locked``, cell id -> hash) and the cells themselves into
``textrec/grading/locked_cells.json``, the manifest the grader reads. A submission whose locked
cells were changed (or deleted) is graded with the originals, and its feedback says so.

The set-up cells are the code cells before the first cell with a solution region (the install
cell, the parameters, the imports and data); the check cells are those tagged ``check:task-N``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from textrec.grading.cells import check_task, solution_regions

MANIFEST = Path(__file__).with_name("locked_cells.json")
SETUP, CHECK = "set-up", "check"


def fingerprint(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def locked_cells(solution: nbformat.NotebookNode) -> list[dict]:
    """The locked cells of a solution notebook, in order: {id, kind, task, position, source,
    sha256}; ``position`` counts code cells."""

    cells, setup_done, position = [], False, -1
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        position += 1
        task = check_task(cell)
        if solution_regions(cell.source):
            setup_done = True
        kind = CHECK if task is not None else None if setup_done else SETUP
        if kind:
            cells.append({"id": cell.get("id"), "kind": kind, "task": task, "position": position,
                          "source": cell.source, "sha256": fingerprint(cell.source)})
    return cells


def manifest_text(solutions_dir: str | Path) -> str:
    """The manifest for every solution notebook (lesson -> its locked cells), as JSON text."""
    manifest = {}
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        lesson = solution.metadata.get("textrec", {}).get("lesson", path.stem)
        manifest[lesson] = locked_cells(solution)
    return json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def load_manifest(path: Path = MANIFEST) -> dict[str, list[dict]]:
    return json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).exists() else {}


def _first_line(source: str) -> str:
    lines = source.strip().splitlines()
    return lines[0][:60] if lines else ""


def restore_setup(notebook: nbformat.NotebookNode, locked: list[dict],
                  defines: set[str]) -> list[str]:
    """Put back the original of every provided set-up cell of ``notebook`` (found by cell id,
    else by its place among the first code cells); returns notes for the feedback. ``defines``:
    the task function names, so that a learner's cell is never mistaken for a set-up cell."""
    notes = []
    by_id = {cell.get("id"): index for index, cell in enumerate(notebook.cells) if cell.get("id")}
    for original in (c for c in locked if c["kind"] == SETUP):
        index = by_id.get(original["id"])
        if index is None:
            code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
            guess = code[original["position"]] if original["position"] < len(code) else None
            source = notebook.cells[guess].source if guess is not None else ""

            if guess is not None and check_task(notebook.cells[guess]) is None and not any(
                    f"def {name}(" in source for name in defines):
                index = guess
        what = f"the provided set-up cell `{_first_line(original['source'])}`"
        if index is None:
            code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
            at = code[original["position"]] if original["position"] < len(code) else len(
                notebook.cells)
            notebook.cells.insert(at, new_code_cell(original["source"]))
            by_id = {c.get("id"): i for i, c in enumerate(notebook.cells) if c.get("id")}
            notes.append(f"{what} was missing; the original was put back and run")
        elif fingerprint(notebook.cells[index].source) != original["sha256"]:
            notebook.cells[index].source = original["source"]
            notes.append(f"{what} was changed; it is locked, so the original was run instead")
    return notes
