"""One made-up class of submissions, graded once per test session by ``textrec grade``'s code.

Honest, partial, broken and looping students (tests/test_grading.py) and a tamper suite of
cheats (tests/test_tamper.py) share one grading run, ``JOBS`` notebooks at a time, so that the
kernels' start-up is paid once. Ordinary cells get ``CELL_LIMIT`` seconds, far more than they
need on a busy machine; only the never-ending cell of ``dave`` runs into it.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from textrec.grading import exercises, grader

ROOT = Path(__file__).resolve().parents[1]
CELL_LIMIT = 60
JOBS = 3
LESSON_01 = "01_data_preparation.ipynb"
PASS_LINES = ("from textrec.grading.checking import TASKS\n"
              "for task in TASKS['01_data_preparation']:\n"
              "    print(task.pass_line + ' (48 cases)')\n")


def read(path):
    return nbformat.read(path, as_version=4)


def solution(name=LESSON_01):
    return read(ROOT / "solutions" / name)


def exercise(name=LESSON_01):
    return read(ROOT / "exercises" / name)


def cell_index(notebook, starts_with):
    return next(i for i, c in enumerate(notebook.cells) if c.source.startswith(starts_with))


def edit(notebook, starts_with, old, new):
    cell = notebook.cells[cell_index(notebook, starts_with)]
    assert old in cell.source
    cell.source = cell.source.replace(old, new)


def check_cell(notebook, number):
    return next(i for i, c in enumerate(notebook.cells) if exercises.check_task(c) == number)


def insert_after(notebook, index, source):
    notebook.cells.insert(index + 1, new_code_cell(source))


def honest(folder: Path) -> None:
    """alice right, bob partly right, carol unreadable, dave right but with a never-ending cell."""
    right = solution()  # plus a cell that shows where and how the kernel runs
    right.cells.insert(3, new_code_cell(
        "import os\nprint(os.environ['TEXTREC_PROFILE'], os.environ['TEXTREC_HOME'], os.getcwd())"))
    nbformat.write(right, folder / "alice.ipynb")

    partly = solution()  # ignores the tie rule; task 3 left as the stub; check 1 "edited"
    edit(partly, "def leave_last_out", "[schema.USER, schema.TIMESTAMP, schema.ORDER]",
         "[schema.USER, schema.TIMESTAMP]")
    task_3 = partly.cells[cell_index(partly, "def find_leaky_users")]
    task_3.source = exercises.strip_solutions(task_3.source, 3)
    partly.cells[check_cell(partly, 1)].source = "print('✓ Task 1 passed')"
    nbformat.write(partly, folder / "bob.ipynb")

    (folder / "carol.ipynb").write_text('{"cells": [ this is not a notebook')

    looping = solution()  # a never-ending cell after task 1's check
    insert_after(looping, check_cell(looping, 1), "while True:\n    pass")
    nbformat.write(looping, folder / "dave.ipynb")


def cheats(folder: Path) -> None:
    """Submissions that try to score without doing the work (see tests/test_tamper.py)."""
    def write(name, notebook):
        nbformat.write(notebook, folder / f"{name}.ipynb")

    # 1. Replace the checks with functions that print the pass lines.
    nb = exercise()
    insert_after(nb, 3, "from textrec import grading\n"
                        "from textrec.grading.checking import TASKS\n"
                        "for task in TASKS['01_data_preparation']:\n"
                        "    setattr(grading, task.check.__name__,\n"
                        "            lambda f, t=task: print(t.pass_line + ' (48 cases)'))\n")
    write("print_pass_lines", nb)

    # 2. Swallow every CheckFailed with IPython's custom exception handler.
    nb = exercise()
    insert_after(nb, 3, "from textrec.grading import CheckFailed\n"
                        "def swallow(shell, etype, evalue, tb, tb_offset=None):\n"
                        "    print('✓ Task passed')\n"
                        "get_ipython().set_custom_exc((CheckFailed, NotImplementedError), swallow)")
    write("custom_exc", nb)

    # 3. The package is the answer: an alias imported earlier (task 1), a call inside (task 2);
    # task 3 is honest work and must stay passed.
    nb = solution()
    insert_after(nb, 3, "from textrec.data.cleaning import clean_text as tidy")
    edit(nb, "def clean_review_text", '"""The review text without HTML entities, tags or URLs, '
         'with single spaces."""', '"""Tidy."""\n    return tidy(text)')
    task_2 = nb.cells[cell_index(nb, "def leave_last_out")]
    task_2.source = ("def leave_last_out(reviews):\n"
                     "    from textrec.data import splits\n"
                     "    split = splits.leave_last_out(reviews)\n"
                     "    return split.train, split.validation, split.test\n")
    write("package_answer", nb)

    # 4. Patch textrec.grading's internals inside the kernel.
    nb = exercise()
    insert_after(nb, 3, "import sys\n"
                        "from textrec.grading import checking, harness, wire\n"
                        "checking.Cases.call = lambda self, *args, case='': None\n"
                        "checking.Task.evaluate = lambda self, fn: 99\n"
                        "checking.CheckFailed.__init__ = lambda self, *a: None\n"
                        "harness.serve = lambda *args: None\n"
                        "wire.decode = lambda data: None\n"
                        "for name in list(sys.modules):\n"
                        "    if name.startswith('textrec.grading'):\n"
                        "        sys.modules[name].check = None\n")
    insert_after(nb, len(nb.cells) - 1, PASS_LINES)
    write("patched_internals", nb)

    # 5. Print the pass lines, then sys.exit in a cell.
    nb = exercise()
    nb.cells.append(new_code_cell(PASS_LINES + "import sys\nsys.exit(0)"))
    write("sys_exit", nb)

    # 6. Print the pass lines, then os._exit: the kernel dies.
    nb = exercise()
    nb.cells.append(new_code_cell(PASS_LINES + "import os\nos._exit(0)"))
    write("os_exit", nb)

    # 6b. os._exit inside the task function, only once the notebook has run (when graded).
    nb = solution()
    edit(nb, "def clean_review_text", '"""The review text without HTML entities, tags or URLs, '
         'with single spaces."""', '"""Quits."""\n    if globals().get("ARMED"):\n'
         '        import os\n        os._exit(0)')
    nb.cells.append(new_code_cell("ARMED = True"))
    write("os_exit_when_called", nb)

    # 7. Edit the check cells so that they print the pass lines.
    nb = exercise()
    from textrec.grading.checking import TASKS

    for task in TASKS["01_data_preparation"]:
        nb.cells[check_cell(nb, task.number)].source = f"print({task.pass_line!r})"
    write("edited_checks", nb)

    # 8. A lookup table of the worked examples and of the (unsalted) hidden cases; task 2 honest.
    nb = solution()
    insert_after(nb, 3, "from textrec.grading import data_preparation as dp\n"
                        "TABLE = dict(dp.CLEANING_CASES + dp._hidden_cleaning_cases())")
    nb.cells[cell_index(nb, "def clean_review_text")].source = (
        "def clean_review_text(text):\n    return TABLE[text]\n")
    nb.cells[cell_index(nb, "def find_leaky_users")].source = (
        "def find_leaky_users(train, test):\n    return set(dp.LEAK_EXPECTED)\n")
    write("lookup_table", nb)

    # 9. Naive: redefine print and the check (and nothing implemented).
    nb = exercise()
    insert_after(nb, 3, "import builtins\nbuiltins.print = lambda *a, **k: None\n"
                        "from textrec import grading\n"
                        "grading.check_clean_review_text = lambda f: None")
    write("naive", nb)

    # 10. Honest work, but the set-up cell was changed: graded with the original, said so.
    nb = solution()
    edit(nb, "import html", "config.set_seeds(SEED)",
         "config.set_seeds(SEED)\ngrading.check_leave_last_out = print")
    write("edited_setup", nb)

    # 11. Exercise 06: task 1 returns the package's ease_weights; tasks 2 and 3 not done.
    nb = exercise("06_evaluation.ipynb")
    insert_after(nb, cell_index(nb, "def ease_weights") - 1,
                 "from textrec.models import ease_weights as package_ease_weights")
    nb.cells[cell_index(nb, "def ease_weights")].source = (
        "def ease_weights(interactions, l2):\n"
        "    return package_ease_weights(interactions, l2)\n")
    (folder / "lesson06").mkdir()
    write("lesson06/06_package_ease", nb)


@functools.lru_cache(maxsize=None)
def graded_class():
    """(submissions by student, output folder, progress lines) of the whole made-up class."""
    folder = Path(tempfile.mkdtemp(prefix="textrec-class-"))
    submissions_dir = folder / "submissions"
    submissions_dir.mkdir()
    honest(submissions_dir)
    cheats(submissions_dir)
    lines = []
    submissions = grader.grade_folder(submissions_dir, out=folder / "grades",
                                      cell_timeout=CELL_LIMIT, timeout=600, jobs=JOBS,
                                      progress=lines.append)
    return {s.student: s for s in submissions}, folder / "grades", lines
