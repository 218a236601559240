"""Grade a folder of submitted exercise notebooks: run each one, read what its checks said.

Each submission runs in a kernel of its own (nbclient), in a fresh temporary working
directory, with ``TEXTREC_PROFILE=quick`` and a temporary ``TEXTREC_HOME``:

* a cell that raises does not stop the ones after it, so every task's check cell runs;
* a cell is interrupted after ``cell_timeout`` seconds and grading goes on with the next one;
  the whole notebook gets ``timeout`` seconds, after which its remaining cells are not run;
* the cell tagged ``check:task-N`` grades task N. The grader runs the original check there
  (an edited check cell is put back; a deleted one is added at the end), and the task passes
  when that cell prints the task's pass line;
* a file that is not a readable notebook scores zero, with the reason.

**This runs the students' code with your permissions.** See the README ("Exercises and
grading") for running it in a container or under an account with no access to secrets.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_output

from textrec.grading.checking import TASKS, Task
from textrec.grading.exercises import check_task

_SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|ACCESS_KEY|PRIVATE", re.I)
_LESSON_PREFIX = re.compile(r"^(\d\d)_")
_TASK_PREFIX = re.compile(r"^Task \d+ \(\w+\):? (?:is )?")


@dataclasses.dataclass
class TaskResult:
    number: int
    function: str
    passed: bool
    reason: str  # "pass", or why not


@dataclasses.dataclass
class Submission:
    """The grade of one submitted notebook."""

    student: str
    path: Path
    lesson: str | None
    results: list[TaskResult] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)  # about the submission as a whole
    problems: list[str] = dataclasses.field(default_factory=list)  # other cells that failed
    seconds: float = 0.0
    executed: nbformat.NotebookNode | None = None

    @property
    def score(self) -> int:
        return sum(result.passed for result in self.results)

    @property
    def out_of(self) -> int:
        return len(TASKS.get(self.lesson, [])) if self.lesson else 0


@dataclasses.dataclass
class _Run:
    """What happened to the cells of one notebook while it ran."""

    timed_out: dict[int, float] = dataclasses.field(default_factory=dict)  # cell -> limit (s)
    not_run: dict[int, str] = dataclasses.field(default_factory=dict)  # cell -> why


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


def prepare(notebook: nbformat.NotebookNode, tasks: list[Task]) -> tuple[dict[int, int], list[str]]:
    """Clear outputs, put back the original check of every task; returns (task -> cell index,
    notes). A task without a check cell gets one appended."""
    notes, cells = [], {}
    by_number = {task.number: task for task in tasks}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        number = check_task(cell)
        if number in by_number and number not in cells:
            if cell.source.strip() != by_number[number].check_source:
                notes.append(f"task {number}: the check cell was edited; the original check was run")
            cell.source = by_number[number].check_source
            cells[number] = index
    for task in tasks:
        if task.number not in cells:
            notes.append(f"task {task.number}: no check cell (tag {task.tag}); one was added at the end")
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
                    error_on_timeout={"ename": "TimeoutError", "evalue": "cell time limit", "traceback": []})
    client.run_state = _Run()
    client.current_index = -1
    return client


async def _execute(client, cell_timeout: float, deadline: float, workdir: Path) -> _Run:
    from nbclient.exceptions import DeadKernelError

    state = client.run_state
    code = [i for i, cell in enumerate(client.nb.cells) if cell.cell_type == "code" and cell.source.strip()]
    environment = kernel_environment(workdir / "textrec_home")
    async with client.async_setup_kernel(env=environment, cwd=str(workdir), stderr=subprocess.DEVNULL):
        for position, index in enumerate(code):
            remaining = deadline - time.monotonic()
            if remaining < 1:
                state.not_run.update({i: "the notebook's time limit was reached first" for i in code[position:]})
                break
            client.timeout = max(1, int(min(cell_timeout, remaining)))
            client.current_index = index
            try:
                await client.async_execute_cell(client.nb.cells[index], index)
            except DeadKernelError:
                state.not_run.update({i: f"the kernel died in cell {index}" for i in code[position + 1:]})
                state.not_run[index] = "the kernel died while running it"
                break
    return state


def _run_notebook(notebook, cell_timeout: float, timeout: float) -> _Run:
    import asyncio

    from jupyter_core.utils import run_sync

    workdir = Path(tempfile.mkdtemp(prefix="textrec-grade-"))
    client = _make_client(notebook, int(cell_timeout))
    deadline = time.monotonic() + timeout

    async def bounded():
        try:
            return await asyncio.wait_for(_execute(client, cell_timeout, deadline, workdir), timeout + 60)
        except asyncio.TimeoutError:  # a kernel that would not even stop: give up on the rest
            state = client.run_state
            for index, cell in enumerate(notebook.cells):
                if index >= client.current_index and cell.cell_type == "code":
                    state.not_run.setdefault(index, "the kernel was stuck past the notebook's time limit")
            return state

    try:
        return run_sync(bounded)()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _error_text(output) -> str:
    if output.ename == "CheckFailed":  # the hint, without the "Task N (function)" it starts with
        return _TASK_PREFIX.sub("", output.evalue)
    return f"{output.ename}: {output.evalue}"


def _task_result(task: Task, cell, index: int, state: _Run) -> TaskResult:
    def fail(reason):
        return TaskResult(task.number, task.function, False, reason)

    if index in state.timed_out:
        return fail(f"the check did not finish within the {state.timed_out[index]:.0f} s cell limit "
                    "and was interrupted")
    if index in state.not_run:
        return fail(f"not run: {state.not_run[index]}")
    errors = [o for o in cell.outputs if o.output_type == "error"]
    if errors:
        reason = _error_text(errors[-1])
        if errors[-1].ename == "NameError":
            reason += f" (did the cell that defines {task.function} run without an error?)"
        return fail(reason)
    printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    if task.pass_line not in printed:
        return fail("the check printed no pass line")
    return TaskResult(task.number, task.function, True, "pass")


def _cell_problems(notebook, state: _Run, check_cells: set[int]) -> list[str]:
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or index in check_cells:
            continue
        first_line = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
        where = f"cell {index} (`{first_line}`)"
        if index in state.timed_out:
            limit = state.timed_out[index]
            problems.append(f"{where} did not finish within the {limit:.0f} s cell limit and was interrupted")
            cell.outputs.append(new_output("error", ename="TimeoutError", traceback=[],
                                           evalue=f"interrupted by the grader after {limit:.0f} s"))
        elif index in state.not_run:
            problems.append(f"{where} was not run: {state.not_run[index]}")
        else:
            problems += [f"{where} raised {_error_text(o)}" for o in cell.outputs if o.output_type == "error"]
    return problems


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
        submission.notes.append("cannot tell which lesson this is (no textrec metadata, no NN_ file "
                                "name prefix, no known check calls); pass --lesson")
        submission.lesson = None
        return submission
    tasks = TASKS[submission.lesson]
    cells, submission.notes = prepare(notebook, tasks)
    try:
        state = _run_notebook(notebook, cell_timeout, timeout)
    except Exception as exc:  # the grader could not run it at all (e.g. no python3 kernel)
        submission.notes.append(f"could not be run: {type(exc).__name__}: {exc}"[:300])
        state = _Run(not_run={i: "the notebook could not be run" for i in cells.values()})
    submission.results = [
        _task_result(task, notebook.cells[cells[task.number]], cells[task.number], state) for task in tasks]
    submission.problems = _cell_problems(notebook, state, set(cells.values()))
    submission.executed = notebook
    submission.seconds = time.monotonic() - start
    return submission


def _fill_unreadable(submissions: list[Submission]) -> None:
    """When every readable submission is of one lesson, an unreadable one fails its tasks."""
    lessons = {s.lesson for s in submissions if s.lesson}
    if len(lessons) != 1:
        return
    lesson = lessons.pop()
    for s in submissions:
        if not s.lesson and s.notes and s.notes[0].startswith("not a readable notebook"):
            s.lesson = lesson
            s.results = [TaskResult(t.number, t.function, False, "not a readable notebook")
                         for t in TASKS[lesson]]


def grade_folder(folder: str | Path, out: str | Path | None = None, cell_timeout: float = 120,
                 timeout: float = 600, lesson: str | None = None, progress=print) -> list[Submission]:
    """Grade every notebook under ``folder``; writes ``scores.csv``, ``scores.md``,
    ``feedback/<student>.md`` and ``executed/<student>.ipynb`` into ``out`` (default: a folder
    ``<folder>-grades`` next to it). Returns the submissions."""
    from textrec.grading import report

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of submitted notebooks")
    out = Path(out) if out else folder.with_name(f"{folder.name}-grades")
    paths = find_submissions(folder, exclude=out)
    if not paths:
        raise FileNotFoundError(f"no .ipynb files under {folder}")
    progress(f"grading {len(paths)} notebook(s) from {folder}: {cell_timeout:.0f} s per cell, "
             f"{timeout:.0f} s per notebook")
    submissions = []
    for number, path in enumerate(paths, start=1):
        student = student_name(path, folder)
        submission = grade_notebook(path, student, cell_timeout, timeout, lesson)
        summary = f"{submission.score}/{submission.out_of} tasks" if submission.lesson else "score 0"
        note = f" [{submission.notes[0][:100]}]" if submission.notes else ""
        progress(f"[{number}/{len(paths)}] {student}: {summary} in {submission.seconds:.1f} s{note}")
        submissions.append(submission)
    _fill_unreadable(submissions)
    written = report.write_reports(submissions, out, cell_timeout=cell_timeout, timeout=timeout)
    progress(f"scores: {written['csv']} and {written['md']}; feedback in {written['feedback']}")
    return submissions
