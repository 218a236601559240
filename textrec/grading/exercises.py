"""Generate ``exercises/`` from ``solutions/``, and tell when the two have drifted apart.

A solution notebook marks the code a learner must write::

    def leave_last_out(reviews):
        \"\"\"...\"\"\"
        ### BEGIN SOLUTION
        ordered = reviews.sort_values(...)
        ...
        ### END SOLUTION

Its exercise is the same notebook with each region (markers included) replaced by one line,
``raise NotImplementedError("Write your solution here (task N)")``, at the indentation of the
``### BEGIN SOLUTION`` line; N is the task of the first check cell (tagged ``check:task-N``)
after the region. Outputs and execution counts are cleared and the Colab badge points to
``exercises/``; nothing else changes, so cell ids, tags and metadata survive.

The provided set-up cells and the check cells are locked (:mod:`textrec.grading.locked`):
their fingerprints go into each exercise's metadata (``textrec.locked``) and the cells into the
grader's manifest, ``textrec/grading/locked_cells.json``.

``textrec exercises`` writes the exercises and the manifest; ``textrec exercises --check`` (CI)
fails, listing the stale files, when ``exercises/`` or the manifest is not what ``solutions/``
generates.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from textrec.grading.cells import BEGIN, END, check_task, solution_regions

STUB = 'raise NotImplementedError("Write your solution here (task {task})")'
_BADGE = re.compile(r"(https://colab\.research\.google\.com/github/[^)\s]*?)/solutions/")


def repository_root() -> Path:
    """The checkout textrec runs from (it has ``solutions/``), else the current directory."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "solutions").is_dir() else Path.cwd()


def strip_solutions(source: str, task: int) -> str:
    """``source`` with each solution region replaced by the stub of ``task``."""
    lines, inside = [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            inside = True
            lines.append(line[: len(line) - len(line.lstrip())] + STUB.format(task=task))
        elif marker == END:
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


def exercise_from_solution(solution: nbformat.NotebookNode,
                           name: str = "notebook") -> nbformat.NotebookNode:
    """The exercise notebook generated from a solution notebook (which is left unchanged)."""
    exercise = copy.deepcopy(solution)
    pending = []  # cells with regions waiting for the next check cell
    for index, cell in enumerate(exercise.cells):
        if cell.cell_type == "markdown":
            cell.source = _BADGE.sub(r"\1/exercises/", cell.source)
            continue
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        try:
            has_regions = bool(solution_regions(cell.source))
        except ValueError as exc:
            raise ValueError(f"{name}, cell {index}: {exc}") from None
        if has_regions:
            pending.append(cell)
        task = check_task(cell)
        if task is not None:
            for waiting in pending:
                waiting.source = strip_solutions(waiting.source, task)
            pending = []
    if pending:
        raise ValueError(f"{name}: a solution region has no check cell (tagged check:task-N) "
                         "after it")
    from textrec.grading.locked import locked_cells

    exercise.metadata.setdefault("textrec", {})["locked"] = {
        cell["id"]: cell["sha256"] for cell in locked_cells(solution)}
    return exercise


def _text(notebook: nbformat.NotebookNode) -> str:
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def expected_exercises(solutions_dir: str | Path) -> dict[str, str]:
    """File name -> the text its exercise notebook should have, for every solution notebook."""
    expected = {}
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        expected[path.name] = _text(exercise_from_solution(solution, path.name))
    return expected


def _expected_files(solutions_dir, exercises_dir, manifest) -> dict[Path, str]:
    from textrec.grading.locked import manifest_text

    files = {Path(exercises_dir) / name: text
             for name, text in expected_exercises(solutions_dir).items()}
    if manifest is not None:
        files[Path(manifest)] = manifest_text(solutions_dir)
    return files


def write_exercises(solutions_dir: str | Path, exercises_dir: str | Path,
                    manifest: str | Path | None = None) -> list[Path]:
    """(Re)write every exercise notebook (and the locked-cell ``manifest``, if given);
    returns the files that changed."""
    Path(exercises_dir).mkdir(parents=True, exist_ok=True)
    changed = []
    for path, text in _expected_files(solutions_dir, exercises_dir, manifest).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale_exercises(solutions_dir: str | Path, exercises_dir: str | Path,
                    manifest: str | Path | None = None) -> list[str]:
    """One line per exercise file (or the ``manifest``) that differs from what the solutions
    generate; [] when none."""
    exercises_dir = Path(exercises_dir)
    expected = expected_exercises(solutions_dir)
    problems = []
    if manifest is not None:
        from textrec.grading.locked import manifest_text

        if not Path(manifest).exists() or Path(manifest).read_text(
                encoding="utf-8") != manifest_text(solutions_dir):
            problems.append(f"{manifest}: the locked-cell manifest differs from what "
                            f"{solutions_dir} generates")
    for name, text in expected.items():
        path = exercises_dir / name
        if not path.exists():
            problems.append(f"{path}: missing (solutions/{name} has no exercise yet)")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from what solutions/{name} generates")
    for path in sorted(exercises_dir.glob("*.ipynb")):
        if path.name not in expected:
            problems.append(f"{path}: has no solution notebook of the same name")
    return problems
