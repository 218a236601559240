"""What grading one submission produced: shared by the grader and the report writer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat

from textrec.grading.checking import TASKS


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
