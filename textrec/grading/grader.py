"""Grade a folder of submitted exercise notebooks, with verdicts the student's code cannot fake.

Each submission runs in a kernel of its own (nbclient), in a fresh temporary working
directory, with ``TEXTREC_PROFILE=quick`` and a temporary ``TEXTREC_HOME``:

* a cell that raises does not stop the ones after it, so every cell runs; a cell is
  interrupted after the cell limit (``cell_timeout``, or the lesson's own limit) and grading goes
  on with the next one; after the notebook's ``timeout`` its remaining cells are not run;
* locked cells (:mod:`textrec.grading.locked`): an edited check cell or provided set-up cell
  is replaced by the original before the notebook runs, and the feedback says so;
* then the grader asks the kernel only for data: it calls each task's function on inputs the
  grader draws now (the worked cases, and hidden cases salted with a seed made in this process
  and never sent to the kernel), gets back what the function returned (plain data, see
  :mod:`textrec.grading.wire`), and runs the task's check on it **here**. What the notebook
  prints, raises or patches in its kernel cannot turn a failure into a pass;
* while a task's function is called, the package's own implementation of that task
  (:mod:`textrec.grading.references`) is unavailable in the kernel: calling it fails the task;
* a file that is not a readable notebook scores zero, with the reason.

**This runs the students' code with your permissions.** See the README ("Exercises and
grading") for running it in a container or under an account with no access to secrets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_output

from textrec.grading import checking, locked, report, verdict
from textrec.grading.checking import TASKS, Task
from textrec.grading.cells import check_task
from textrec.grading.results import Submission, TaskResult

__all__ = ["Submission", "TaskResult", "grade_folder", "grade_notebook"]

_SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|ACCESS_KEY|PRIVATE", re.I)
_LESSON_PREFIX = re.compile(r"^(\d\d)_")
_TASK_PREFIX = verdict.TASK_PREFIX


def find_submissions(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Every .ipynb file under ``folder`` (checkpoints and the ``exclude`` folder left out)."""
    paths = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        if exclude is not None and exclude.resolve() in path.resolve().parents:
            continue
        paths.append(path)
    return paths


def student_name(path: Path, folder: Path) -> str:
    """The student's name: the file's path under ``folder``, without ``.ipynb``."""
    return path.relative_to(folder).with_suffix("").as_posix()


def lesson_from_file_name(path: Path) -> str | None:
    """The lesson whose number starts the file name (``01_anything.ipynb``), if any."""
    match = _LESSON_PREFIX.match(path.name)
    found = [name for name in TASKS if match and name.startswith(match.group(0))]
    return found[0] if len(found) == 1 else None


def identify_lesson(notebook: nbformat.NotebookNode, path: Path) -> str | None:
    """The lesson of a submission: its notebook metadata, else its file name (``01_...``),
    else the checks its cells call."""
    lesson = notebook.get("metadata", {}).get("textrec", {}).get("lesson")
    if lesson in TASKS:
        return lesson
    if lesson_from_file_name(path):
        return lesson_from_file_name(path)
    sources = "\n".join(cell.get("source", "") for cell in notebook.get("cells", []))
    called = set(re.findall(r"\b(check_\w+)\(", sources))
    found = [name for name, tasks in TASKS.items() if called & {t.check.__name__ for t in tasks}]
    return found[0] if len(found) == 1 else None



@dataclasses.dataclass
class _Run:
    """What happened to the cells of one notebook while it ran, and the tasks' verdicts."""

    timed_out: dict[int, float] = dataclasses.field(default_factory=dict)  # cell -> limit (s)
    not_run: dict[int, str] = dataclasses.field(default_factory=dict)  # cell -> why
    verdicts: dict[int, TaskResult] = dataclasses.field(default_factory=dict)  # task -> result


def prepare(notebook: nbformat.NotebookNode, tasks: list[Task],
            lesson: str | None = None) -> tuple[dict[int, int], list[str]]:
    """Clear outputs, put back the locked cells (the provided set-up cells and the original
    check of every task); returns (task -> check cell index, notes). A task without a check cell
    gets one appended."""
    notes = []
    manifest = locked.load_manifest().get(lesson or (tasks[0].lesson if tasks else ""), [])
    notes += locked.restore_setup(notebook, manifest, {task.function for task in tasks})
    cells = {}
    by_number = {task.number: task for task in tasks}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        number = check_task(cell)
        if number in by_number and number not in cells:
            if cell.source.strip() != by_number[number].check_source:
                notes.append(f"task {number}: the check cell was edited; it is locked, so the "
                             "original check was run instead")
            cell.source = by_number[number].check_source
            cells[number] = index
    for task in tasks:
        if task.number not in cells:
            notes.append(f"task {task.number}: no check cell (tag {task.tag}); one was added at "
                         "the end")
            notebook.cells.append(new_code_cell(task.check_source, metadata={"tags": [task.tag]}))
            cells[task.number] = len(notebook.cells) - 1
    return cells, notes


def kernel_environment(home: Path) -> dict[str, str]:
    """The grader's environment without textrec settings or variables that look like secrets,
    plus the quick profile and a private ``TEXTREC_HOME``."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("TEXTREC_") and not _SECRET.search(key)}
    env.update(TEXTREC_PROFILE="quick", TEXTREC_HOME=str(home), MPLBACKEND="Agg")
    return env


def _make_client(notebook, cell_timeout: int):
    from nbclient import NotebookClient

    class Client(NotebookClient):
        """Remembers which cells ran into their time limit."""

        run_state: _Run

        async def _async_handle_timeout(self, timeout, cell=None):
            if cell is not None:
                self.run_state.timed_out[self.current_index] = timeout
            return await super()._async_handle_timeout(timeout, cell)

    client = Client(notebook, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                    interrupt_on_timeout=True, shutdown_kernel="immediate", record_timing=False,
                    error_on_timeout={"ename": "TimeoutError", "evalue": "cell time limit",
                                      "traceback": []})
    client.run_state = _Run()
    client.current_index = -1
    return client


async def _execute(client, cell_timeout: float, deadline: float, workdir: Path,
                   tasks: list[Task]) -> _Run:
    from nbclient.exceptions import DeadKernelError

    state = client.run_state
    code = [i for i, cell in enumerate(client.nb.cells)
            if cell.cell_type == "code" and cell.source.strip()]
    environment = kernel_environment(workdir / "textrec_home")
    folder = workdir / "grader"
    folder.mkdir()
    died = None
    async with client.async_setup_kernel(env=environment, cwd=str(workdir / "run"),
                                         stderr=subprocess.DEVNULL):
        for position, index in enumerate(code):
            remaining = deadline - time.monotonic()
            if remaining < 1:
                state.not_run.update({i: "the notebook's time limit was reached first"
                                      for i in code[position:]})
                break
            client.timeout = max(1, int(min(cell_timeout, remaining)))
            client.current_index = index
            try:
                await client.async_execute_cell(client.nb.cells[index], index)
            except DeadKernelError:
                state.not_run.update({i: f"the kernel died in cell {index}"
                                      for i in code[position + 1:]})
                state.not_run[index] = "the kernel died while running it"
                first = client.nb.cells[index].source.strip().splitlines()[0][:60]
                died = f"the kernel died in cell {index} (`{first}`)"
                break
        if died is None and not await client.km.is_alive():
            died = "the kernel was no longer running after the last cell"
        if died:
            state.verdicts = {t.number: TaskResult(t.number, t.function, False,
                                                   f"not graded: {died}, so the grader could "
                                                   "not call the notebook's functions")
                              for t in tasks}
        else:
            state.verdicts = await verdict.grade_in_kernel(client, tasks, folder, cell_timeout)
    return state


def _run_notebook(notebook, cell_timeout: float, timeout: float, tasks: list[Task]) -> _Run:
    workdir = Path(tempfile.mkdtemp(prefix="textrec-grade-"))
    (workdir / "run").mkdir()
    client = _make_client(notebook, int(cell_timeout))
    deadline = time.monotonic() + timeout
    bound = timeout + 60 + len(tasks) * (cell_timeout + 40)

    async def bounded():
        try:
            return await asyncio.wait_for(_execute(client, cell_timeout, deadline, workdir, tasks),
                                          bound)
        except asyncio.TimeoutError:  # a kernel that would not even stop: give up on the rest
            state = client.run_state
            for index, cell in enumerate(notebook.cells):
                if index >= client.current_index and cell.cell_type == "code":
                    state.not_run.setdefault(index, "the kernel was stuck past the notebook's "
                                                    "time limit")
            return state

    try:
        return asyncio.run(bounded())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _error_text(output) -> str:
    if output.ename == "CheckFailed":  # the hint, without the "Task N (function)" it starts with
        return _TASK_PREFIX.sub("", output.evalue)
    return f"{output.ename}: {output.evalue}"


def _task_result(task: Task, state: _Run) -> TaskResult:
    found = state.verdicts.get(task.number)
    if found is not None:
        return found
    return TaskResult(task.number, task.function, False, "not graded: the notebook did not finish")


def _cell_problems(notebook, state: _Run, check_cells: set[int]) -> list[str]:
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or index in check_cells:
            continue
        first_line = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
        where = f"cell {index} (`{first_line}`)"
        if index in state.timed_out:
            limit = state.timed_out[index]
            problems.append(f"{where} did not finish within the {limit:.0f} s cell limit and was "
                            "interrupted")
            cell.outputs.append(new_output("error", ename="TimeoutError", traceback=[],
                                           evalue=f"interrupted by the grader after {limit:.0f} s"))
        elif index in state.not_run:
            problems.append(f"{where} was not run: {state.not_run[index]}")
        else:
            problems += [f"{where} raised {_error_text(o)}"
                         for o in cell.outputs if o.output_type == "error"]
    return problems


class _GradingSeed:
    """Salts the checks' hidden cases with a seed drawn now, in this process (re-entrant)."""

    _lock = threading.Lock()
    _depth = 0

    def __enter__(self):
        with self._lock:
            if _GradingSeed._depth == 0:
                checking.set_grading_seed(secrets.randbits(63))
            _GradingSeed._depth += 1

    def __exit__(self, *exc):
        with self._lock:
            _GradingSeed._depth -= 1
            if _GradingSeed._depth == 0:
                checking.set_grading_seed(None)


def grade_notebook(path: Path, student: str, cell_timeout: float = 120, timeout: float = 600,
                   lesson: str | None = None) -> Submission:
    """Run one submission and grade each task of its lesson."""
    start = time.monotonic()
    submission = Submission(student, path, lesson)
    try:
        notebook = nbformat.read(path, as_version=4)
        list(notebook.cells)  # a JSON file that is not a notebook fails here
    except Exception as exc:  # any unreadable file scores zero, with the reason
        submission.notes.append(f"not a readable notebook: {type(exc).__name__}: {exc}"[:300])
        submission.lesson = lesson or lesson_from_file_name(path)
        submission.results = [TaskResult(t.number, t.function, False, "not a readable notebook")
                              for t in TASKS.get(submission.lesson, [])]
        return submission
    submission.lesson = lesson or identify_lesson(notebook, path)
    if submission.lesson not in TASKS:
        submission.notes.append("cannot tell which lesson this is (no textrec metadata, no NN_ "
                                "file name prefix, no known check calls); pass --lesson")
        submission.lesson = None
        return submission
    tasks = TASKS[submission.lesson]
    cells, submission.notes = prepare(notebook, tasks, submission.lesson)
    with _GradingSeed():
        try:
            state = _run_notebook(notebook, cell_timeout, timeout, tasks)
        except Exception as exc:  # the grader could not run it at all (e.g. no python3 kernel)
            submission.notes.append(f"could not be run: {type(exc).__name__}: {exc}"[:300])
            state = _Run(not_run={i: "the notebook could not be run" for i in cells.values()})
    submission.results = [_task_result(task, state) for task in tasks]
    submission.problems = _cell_problems(notebook, state, set(cells.values()))
    submission.executed = notebook
    submission.seconds = time.monotonic() - start
    return submission


def _fill_unreadable(submissions: list[Submission]) -> None:
    """When every readable submission in an unreadable file's folder is of one lesson, the
    unreadable one fails that lesson's tasks."""
    for s in submissions:
        if s.lesson or not s.notes or not s.notes[0].startswith("not a readable notebook"):
            continue
        lessons = {o.lesson for o in submissions if o.lesson and o.path.parent == s.path.parent}
        if len(lessons) == 1:
            s.lesson = lessons.pop()
            s.results = [TaskResult(t.number, t.function, False, "not a readable notebook")
                         for t in TASKS[s.lesson]]


def _cell_limit(path: Path, cell_timeout: float, limits: dict[str, float],
                lesson: str | None) -> float:
    if not limits:
        return cell_timeout
    lesson = lesson or lesson_from_file_name(path)
    if lesson is None:
        try:
            lesson = identify_lesson(nbformat.read(path, as_version=4), path)
        except Exception:  # noqa: BLE001 (unreadable: grade_notebook reports it)
            lesson = None
    return limits.get(lesson, cell_timeout)


def grade_folder(folder: str | Path, out: str | Path | None = None, cell_timeout: float = 120,
                 timeout: float = 600, lesson: str | None = None, progress=print, jobs: int = 1,
                 lesson_cell_timeouts: dict[str, float] | None = None) -> list[Submission]:
    """Grade every notebook under ``folder``, ``jobs`` at a time; writes ``scores.csv``,
    ``scores.md``, ``feedback/<student>.md`` and ``executed/<student>.ipynb`` into ``out``
    (default: a folder ``<folder>-grades`` next to it). ``lesson_cell_timeouts`` gives some
    lessons a cell limit of their own. Returns the submissions, in file order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of submitted notebooks")
    unknown = set(lesson_cell_timeouts or {}) - set(TASKS)
    if unknown:
        raise ValueError(f"no such lesson: {sorted(unknown)} (lessons: {sorted(TASKS)})")
    out = Path(out) if out else folder.with_name(f"{folder.name}-grades")
    paths = find_submissions(folder, exclude=out)
    if not paths:
        raise FileNotFoundError(f"no .ipynb files under {folder}")
    jobs = max(1, int(jobs))
    limits = dict(lesson_cell_timeouts or {})
    special = "".join(f", {name}: {limit:.0f} s" for name, limit in sorted(limits.items()))
    progress(f"grading {len(paths)} notebook(s) from {folder}: {cell_timeout:.0f} s per cell"
             f"{special}, {timeout:.0f} s per notebook, {jobs} at a time")
    start, lock, done = time.monotonic(), threading.Lock(), [0]

    def grade(path: Path) -> Submission:
        student = student_name(path, folder)
        limit = _cell_limit(path, cell_timeout, limits, lesson)
        submission = grade_notebook(path, student, limit, timeout, lesson)
        summary = (
            f"{submission.score}/{submission.out_of} tasks" if submission.lesson else "score 0"
        )
        note = f" [{submission.notes[0][:100]}]" if submission.notes else ""
        with lock:
            done[0] += 1
            progress(f"[{done[0]}/{len(paths)}] {student}: {summary} in "
                     f"{submission.seconds:.1f} s{note}")
        return submission

    with _GradingSeed(), ThreadPoolExecutor(max_workers=jobs) as pool:
        submissions = list(pool.map(grade, paths))
    _fill_unreadable(submissions)
    wall = time.monotonic() - start
    written = report.write_reports(submissions, out, cell_timeout=cell_timeout, timeout=timeout)
    graded = [s for s in submissions if s.out_of]
    mean = sum(s.score / s.out_of for s in graded) / len(graded) if graded else 0.0
    progress(
        f"class graded in {wall:.0f} s with {jobs} job(s) "
        f"({sum(s.seconds for s in submissions):.0f} s "
        f"of notebook time, {len(submissions)} notebook(s)); mean score {mean:.0%} of the tasks"
    )
    progress(f"scores: {written['csv']} and {written['md']}; feedback in {written['feedback']}")
    return submissions
