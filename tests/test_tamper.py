"""The tamper suite: submissions that try to score without doing the work.

Each cheat (built in tests/grading_class.py, graded with the rest of a made-up class) scores 0
on every task it did not solve, with a reason an instructor can read; honest work next to a
cheat stays passed.
"""

import json
from pathlib import Path

import nbformat
import pytest

from tests.grading_class import graded_class
from textrec.grading import exercises, locked, wire
from textrec.grading.checking import TASKS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graded():
    return graded_class()


def results(graded, student):
    submission = graded[0][student]
    return submission, {r.number: r for r in submission.results}


NOT_DONE = "not done yet: it still raises NotImplementedError"


@pytest.mark.slow
@pytest.mark.parametrize("student", ["print_pass_lines", "custom_exc", "patched_internals",
                                     "sys_exit", "edited_checks", "naive"])
def test_printing_swallowing_or_patching_scores_nothing(graded, student):
    submission, by_task = results(graded, student)
    assert (submission.score, submission.out_of) == (0, 3)
    for result in by_task.values():  # the real reason: nothing was written
        assert result.reason.startswith(NOT_DONE), result.reason


@pytest.mark.slow
def test_the_kernels_own_check_cells_were_fooled_but_the_grade_was_not(graded):
    executed = graded[0]["print_pass_lines"].executed
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "✓ Task 1 passed" in printed  # what the old grader read and believed


@pytest.mark.slow
def test_edited_check_cells_are_put_back_and_said_so(graded):
    submission, _ = results(graded, "edited_checks")
    assert sum("the check cell was edited" in note for note in submission.notes) == 3


@pytest.mark.slow
def test_the_package_is_not_the_answer(graded):
    submission, by_task = results(graded, "package_answer")
    assert submission.score == 1 and by_task[3].passed  # task 3 was honest work
    assert "calls the package's own textrec.data.cleaning.clean_text" in by_task[1].reason
    assert "calls the package's own textrec.data.splits.leave_last_out" in by_task[2].reason
    assert "Write the task yourself" in by_task[1].reason


@pytest.mark.slow
def test_exercise_06_cannot_return_the_packages_ease_weights(graded):
    submission, by_task = results(graded, "lesson06/06_package_ease")
    assert (submission.lesson, submission.score) == ("06_evaluation", 0)
    assert "textrec.models.item_based.ease_weights" in by_task[1].reason
    assert by_task[2].reason.startswith(NOT_DONE) and by_task[3].reason.startswith(NOT_DONE)


@pytest.mark.slow
def test_os_exit_kills_the_kernel_and_scores_nothing(graded):
    submission, by_task = results(graded, "os_exit")
    assert submission.score == 0
    for result in by_task.values():
        assert result.reason.startswith("not graded: the kernel died in cell"), result.reason


@pytest.mark.slow
def test_a_function_that_kills_the_kernel_when_called_fails_and_stops_the_grading(graded):
    submission, by_task = results(graded, "os_exit_when_called")
    assert submission.score == 0
    assert by_task[1].reason == "the kernel died while it was being called"
    assert by_task[2].reason == "not graded: the kernel died while task 1 was being checked"


@pytest.mark.slow
def test_a_lookup_table_of_the_visible_and_fixed_hidden_cases_fails_the_salted_cases(graded):
    submission, by_task = results(graded, "lookup_table")
    assert submission.score == 1 and by_task[2].passed
    assert "KeyError" in by_task[1].reason
    assert "hidden case" in by_task[3].reason
    executed = submission.executed  # in the notebook itself, the table fooled the checks
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "✓ Task 1 passed" in printed


@pytest.mark.slow
def test_an_edited_setup_cell_is_run_as_the_original_and_honest_work_stays_passed(graded):
    submission, _ = results(graded, "edited_setup")
    assert submission.score == 3
    assert any("set-up cell `import html` was changed" in note for note in submission.notes)
    executed = submission.executed
    setup = next(c for c in executed.cells if c.source.startswith("import html"))
    assert "check_leave_last_out = print" not in setup.source


@pytest.mark.slow
def test_the_feedback_tells_the_instructor_why(graded):
    out = graded[1]
    feedback = (out / "feedback" / "package_answer.md").read_text()
    assert "1 of 3 tasks passed" in feedback and "package's own" in feedback
    assert "the check cell was edited" in (out / "feedback" / "edited_checks.md").read_text()
    assert "kernel died" in (out / "feedback" / "os_exit.md").read_text()


# ------------------------------------------------------------------------ without a kernel

def test_the_exercises_do_not_import_their_tasks_reference_by_name():
    from textrec.grading import references

    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        lesson = notebook.metadata["textrec"]["lesson"]
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        for task in TASKS[lesson]:
            for reference in references.references(lesson, task.number):
                module, _, name = reference.rpartition(".")
                assert f"import {name}" not in code and f"{name} as" not in code, (path, name)


def test_every_reference_resolves_to_a_function_with_a_source_location():
    from textrec.grading import references

    for lesson, tasks in TASKS.items():
        for task in tasks:
            for path, suffix, name, line in references.locations(
                    references.references(lesson, task.number)):
                assert suffix.endswith(".py") and line > 0 and name == path.rpartition(".")[2]


def test_locked_cells_are_fingerprinted_in_the_exercises_and_the_manifest():
    manifest = locked.load_manifest()
    assert set(manifest) == set(TASKS)
    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        lesson = notebook.metadata["textrec"]["lesson"]
        hashes = notebook.metadata["textrec"]["locked"]
        kinds = [c["kind"] for c in manifest[lesson]]
        assert kinds.count("check") == len(TASKS[lesson]) and kinds.count("set-up") >= 2
        by_id = {c.get("id"): c for c in notebook.cells}
        for cell in manifest[lesson]:
            assert hashes[cell["id"]] == cell["sha256"] == locked.fingerprint(cell["source"])
            assert by_id[cell["id"]].source == cell["source"]
            if cell["kind"] == "check":
                assert exercises.check_task(by_id[cell["id"]]) == cell["task"]


def test_the_wire_rebuilds_data_and_never_code():
    encoded = {"$": "dict", "items": [[{"$": "int", "value": "1"},
                                       {"$": "array", "dtype": "<f8", "shape": [2],
                                        "b64": "AAAAAAAA8D8AAAAAAAAAQA=="}]]}
    decoded = wire.decode(json.loads(json.dumps(encoded)))
    assert list(decoded) == [1] and decoded[1].tolist() == [1.0, 2.0]
    for bad in ({"$": "array", "dtype": "O", "shape": [1], "b64": ""},
                {"$": "pickle", "data": "..."}):
        with pytest.raises(ValueError):
            wire.decode(bad)
    assert repr(wire.decode({"$": "other", "type": "Evil", "repr": "<Evil>"})) == "<Evil>"


def test_what_a_kernel_returns_comes_back_as_the_same_data():
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    from textrec.grading import harness

    frame = pd.DataFrame({"user": ["a", "b"], "order": [3, 4], "x": [0.5, np.nan]}, index=[7, 9])
    value = (frame, {1: 2.0, "k": np.bool_(True)}, {3, 4}, np.float32(1.5),
             tf.constant([[1, 2]]), "s", None, [b"x"], 10**30, object())
    back = wire.decode(json.loads(json.dumps(harness.encode(value))))
    pd.testing.assert_frame_equal(back[0], frame)
    assert back[1] == {1: 2.0, "k": True} and isinstance(back[1]["k"], np.bool_)
    assert back[2] == {3, 4} and back[3] == np.float32(1.5) and back[3].dtype == np.float32
    assert back[4].tolist() == [[1, 2]] and back[5:9] == ("s", None, [b"x"], 10**30)
    assert isinstance(back[9], wire.Opaque) and back[9].type_name == "object"


def test_blocking_a_reference_catches_aliases_and_is_undone():
    from textrec.data import cleaning
    from textrec.grading import harness, references

    alias = cleaning.clean_text
    harness.block(references.locations(["textrec.data.cleaning.clean_text"]))
    try:
        harness.STATE["calls"] = []
        with pytest.raises(RuntimeError, match="is the answer to this task"):
            alias("<b>x</b>")
        assert harness.STATE["calls"] == ["textrec.data.cleaning.clean_text"]
    finally:
        harness.unblock()
    assert alias("<b>x</b>") == "x"


def test_a_lesson_can_have_a_cell_limit_of_its_own(tmp_path):
    from textrec.grading import grader

    path = tmp_path / "01_mine.ipynb"
    assert grader._cell_limit(path, 120, {"01_data_preparation": 300}, None) == 300
    assert grader._cell_limit(tmp_path / "06_x.ipynb", 120, {"01_data_preparation": 300},
                              None) == 120
