"""What every exercise check shares: the failure type, the task registry, calling learner code.

A check is a function ``check_<task>(fn)`` that runs the learner's ``fn`` on cases whose
expected values are written out by hand, then on hidden random cases compared with a reference
implementation from the package. It prints one friendly pass line, or raises
:class:`CheckFailed` with a hint that points at the mistake without giving the answer away.

The hidden cases are drawn from :func:`hidden_rng`: in a notebook the same every time (the
learner's feedback is reproducible), but when the instructor's grader runs the check it mixes
in a seed of its own (:func:`set_grading_seed`), drawn at grading time and never sent to the
student's kernel, so a table of the hidden cases' answers is worth nothing.

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
    body: Callable | None = None  # the check without its pass line: raises or returns the count

    def evaluate(self, fn) -> int:
        """Run the check on ``fn`` without printing; the number of cases passed, or raises
        :class:`CheckFailed`. The grader calls this in its own process."""
        if not callable(fn):
            raise CheckFailed(f"Task {self.number}: `{self.function}` is a "
                              f"{type(fn).__name__}, not a function")
        cases = Cases(self, fn)
        self.body(cases)
        return cases.count

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

    def call_all(self, calls: list[tuple], case: str = "") -> list:
        """``[call(*args) for args in calls]``; a grader's stand-in for the learner's function
        answers them in one round trip (its ``textrec_batch``)."""
        __tracebackhide__ = True
        batch = getattr(self.fn, "textrec_batch", None)
        if batch is None:
            return [self.call(*args, case=case) for args in calls]
        original, self.fn = self.fn, batch
        try:
            return self.call(list(calls), case=case)
        finally:
            self.fn = original

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

        task = Task(lesson, number, function, title, run, body)
        tasks = TASKS.setdefault(lesson, [])
        if any(t.number == number for t in tasks):
            raise ValueError(f"task {number} of {lesson} is declared twice")
        tasks.append(task)
        tasks.sort(key=lambda t: t.number)
        TASKS_BY_CHECK[run.__name__] = task
        return run

    return decorate


TASKS_BY_CHECK: dict[str, Task] = {}

_GRADING_SEED: list[int] = []  # empty in notebooks; the grader's own seed while it grades


def set_grading_seed(seed: int | None) -> None:
    """Mix ``seed`` into every hidden case drawn from now on (None: back to the fixed cases)."""
    _GRADING_SEED[:] = [] if seed is None else [int(seed)]


def hidden_rng(seed: int) -> np.random.Generator:
    """The generator of a check's hidden cases: ``default_rng(seed)`` in a notebook, salted
    with the grader's seed while grading (see :func:`set_grading_seed`)."""
    return np.random.default_rng([seed, *_GRADING_SEED] if _GRADING_SEED else seed)


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
