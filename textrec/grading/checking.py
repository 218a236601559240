"""What every exercise check shares: the failure type, the task registry, calling learner code.

A check is a function ``check_<task>(fn)`` that runs the learner's ``fn`` on cases whose
expected values are written out by hand, then on hidden random cases compared with a reference
implementation from the package. It prints one friendly pass line, or raises
:class:`CheckFailed` with a hint that points at the mistake without giving the answer away.

Each check is declared with :func:`check`, which also records it in :data:`TASKS` (lesson ->
its tasks, in order). The instructor's grader reads :data:`TASKS` to know which tasks a lesson
has, which cell grades which task (the cell tagged ``check:task-N``) and what that cell runs.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import numpy as np

PASS_MARK = "✓"


class CheckFailed(AssertionError):
    """The learner's function gave a wrong answer (or none yet); the message is a hint."""


@dataclasses.dataclass(frozen=True)
class Task:
    """One graded exercise: the function the learner writes and the check that grades it."""

    lesson: str  # notebook name without .ipynb, e.g. "01_data_preparation"
    number: int  # 1, 2, ... within the lesson
    function: str  # the name the learner's function must have
    title: str  # what the pass line says was checked
    check: Callable

    @property
    def tag(self) -> str:
        """The tag of the notebook cell that runs this task's check."""
        return f"check:task-{self.number}"

    @property
    def check_source(self) -> str:
        """The source of the check cell (the grader runs exactly this)."""
        return f"from textrec import grading\n\ngrading.{self.check.__name__}({self.function})"

    @property
    def pass_line(self) -> str:
        return f"{PASS_MARK} Task {self.number} passed: {self.title}"


TASKS: dict[str, list[Task]] = {}


class Cases:
    """Handed to a check's body: calls the learner's function and builds failures.

    ``call`` turns a ``NotImplementedError`` into a clear "not done yet" failure and any other
    exception into a failure that names it; ``fail`` builds a :class:`CheckFailed` that starts
    with the task; ``passed`` counts a case that passed.
    """

    def __init__(self, task: Task, fn: Callable):
        self.task = task
        self.fn = fn
        self.count = 0

    def fail(self, hint: str) -> CheckFailed:
        return CheckFailed(f"Task {self.task.number} ({self.task.function}): {hint}")

    def call(self, *args, case: str = ""):
        __tracebackhide__ = True
        try:
            return self.fn(*args)
        except NotImplementedError:
            raise CheckFailed(
                f"Task {self.task.number} ({self.task.function}) is not done yet: it still raises "
                "NotImplementedError. Replace the `raise NotImplementedError(...)` line with your "
                "code, run that cell, then this one again."
            ) from None
        except CheckFailed:
            raise
        except Exception as exc:  # the learner's bug: report it as a failed check
            where = f" on {case}" if case else ""
            raise self.fail(f"calling it{where} raised {type(exc).__name__}: {exc}") from exc

    def passed(self, n: int = 1) -> None:
        self.count += n


def check(lesson: str, number: int, function: str, title: str):
    """Declare the check of task ``number`` of ``lesson``; the decorated body takes a
    :class:`Cases` and raises ``cases.fail(...)`` on the first wrong answer."""

    def decorate(body: Callable[[Cases], None]) -> Callable:
        @functools.wraps(body)
        def run(fn) -> None:
            __tracebackhide__ = True
            task = TASKS_BY_CHECK[run.__name__]
            if not callable(fn):
                raise CheckFailed(
                    f"Task {number}: pass the function itself, {run.__name__}({function}), "
                    f"not the result of calling it (got a {type(fn).__name__})")
            cases = Cases(task, fn)
            body(cases)
            print(f"{task.pass_line} ({cases.count} cases)")

        task = Task(lesson, number, function, title, run)
        tasks = TASKS.setdefault(lesson, [])
        if any(t.number == number for t in tasks):
            raise ValueError(f"task {number} of {lesson} is declared twice")
        tasks.append(task)
        tasks.sort(key=lambda t: t.number)
        TASKS_BY_CHECK[run.__name__] = task
        return run

    return decorate


TASKS_BY_CHECK: dict[str, Task] = {}


def describe(value, limit: int = 120) -> str:
    """A short repr for hints."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_array(cases: Cases, case: str, result, shape) -> np.ndarray:
    """The learner's ``result`` as a float array of ``shape``, or a failure naming ``case``."""
    try:
        got = np.asarray(result, float)
    except (TypeError, ValueError):
        raise cases.fail(f"{case}: return a NumPy array, got {describe(result, 80)}") from None
    if got.shape != tuple(shape):
        raise cases.fail(f"{case}: expected shape {list(shape)}, got shape {list(got.shape)}")
    return got
