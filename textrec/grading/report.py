"""The instructor's score table (CSV and Markdown) and one feedback file per student."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat

from textrec.grading.checking import TASKS
from textrec.grading.results import Submission

PASS = "pass"


def safe_name(student: str) -> str:
    """A file name for a student's feedback (their path with odd characters replaced)."""
    return re.sub(r"[^\w.-]+", "_", student).strip("._") or "student"


def _cell(submission: Submission, number: int) -> str:
    for result in submission.results:
        if result.number == number:
            return PASS if result.passed else result.reason
    return ""


def _n_columns(submissions: list[Submission]) -> int:
    return max((s.out_of for s in submissions), default=0)


def write_csv(submissions: list[Submission], path: Path) -> None:
    n = _n_columns(submissions)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "lesson", *[f"task {i}" for i in range(1, n + 1)],
                         "total", "out_of", "seconds", "notes"])
        for s in submissions:
            writer.writerow([s.student, s.lesson or "", *[_cell(s, i) for i in range(1, n + 1)],
                             s.score, s.out_of, f"{s.seconds:.1f}", "; ".join(s.notes)])


def _md(text: str, limit: int = 90) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_markdown(submissions: list[Submission], path: Path, cell_timeout: float,
                   timeout: float) -> None:
    n = _n_columns(submissions)
    lines = [
        "# Scores",
        "",
        f"{len(submissions)} submission(s); limits: {cell_timeout:.0f} s per cell, "
        f"{timeout:.0f} s per notebook. ✓ = passed; otherwise why not (in full in scores.csv and "
        "feedback/).",
        "",
        "| student | lesson | " + " | ".join(f"task {i}" for i in range(1, n + 1)) + " | total |",
        "|---|---|" + "---|" * n + "---|",
    ]
    for s in submissions:
        cells = []
        for i in range(1, n + 1):
            value = _cell(s, i)
            first_sentence = value.split(". ")[0]
            cells.append("✓" if value == PASS else _md(first_sentence) if value else "")
        total = f"{s.score}/{s.out_of}" if s.lesson else f"0 ({_md(s.notes[-1], 60)})"
        lines.append(
            f"| {_md(s.student, 40)} | {s.lesson or '?'} | " + " | ".join(cells) + f" | {total} |"
        )
    lessons = sorted({s.lesson for s in submissions if s.lesson})
    if lessons:
        lines += ["", "Tasks:"]
        for lesson in lessons:
            lines += [
                f"- {lesson}, task {t.number}: `{t.function}`, {t.title}" for t in TASKS[lesson]
            ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def feedback(submission: Submission) -> str:
    """A student's feedback file: each task, passed or why not, then other problems."""
    s = submission
    lines = [f"# Feedback: {s.student}", ""]
    if not s.lesson:
        lines += ["Score: 0.", "", *[f"- {note}" for note in s.notes]]
        return "\n".join(lines) + "\n"
    lines += [f"Lesson `{s.lesson}`: **{s.score} of {s.out_of} tasks passed** "
              f"(graded in {s.seconds:.0f} s).", ""]
    titles = {t.number: t.title for t in TASKS[s.lesson]}
    for r in s.results:
        mark = "✓ passed" if r.passed else "✗ not yet"
        lines += [f"## Task {r.number}: `{r.function}` ({mark})", "", titles[r.number] + "."]
        if not r.passed:
            lines += ["", r.reason]
        lines.append("")
    if s.problems:
        lines += ["## Other cells that did not finish cleanly", ""]
        lines += [f"- {problem}" for problem in s.problems] + [""]
    if s.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in s.notes] + [""]
    return "\n".join(lines)


def write_reports(submissions: list[Submission], out: Path, cell_timeout: float,
                  timeout: float) -> dict[str, Path]:
    """Write scores.csv, scores.md, feedback/ and executed/ into ``out``; returns their paths."""
    out = Path(out)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    (out / "executed").mkdir(exist_ok=True)
    write_csv(submissions, out / "scores.csv")
    write_markdown(submissions, out / "scores.md", cell_timeout, timeout)
    for s in submissions:
        (out / "feedback" / f"{safe_name(s.student)}.md").write_text(feedback(s), encoding="utf-8")
        if s.executed is not None:
            nbformat.write(s.executed, out / "executed" / f"{safe_name(s.student)}.ipynb")
    return {"csv": out / "scores.csv", "md": out / "scores.md", "feedback": out / "feedback"}
