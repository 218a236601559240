"""A lesson's readings are this run's: executed on two different inputs, each run prints readings
that match the values it computed.

A *reading* is a paragraph a lesson prints to interpret its results (which model wins, whether a
difference is beyond noise, whether an aim is met); its cell is tagged ``reading``. For each run
of a lesson in :data:`lesson_readings.LESSONS`:

* every ``reading`` cell printed something;
* every sentence worded by :mod:`textrec.evaluation.readings` agrees with the numbers it states
  (an interval "above 0" has a positive low end, "Aim met" clears the aim, ...);
* each of the lesson's ``values`` (expressions evaluated in the kernel after the last cell),
  formatted as the lesson prints it, appears in the printed readings: the sentence was worded
  from this run's numbers, not remembered from another run.

The two inputs: the synthetic default, which ``make test`` already executes under nbval (the
``nbval_readings`` plugin checks each registered lesson there, at no extra cost), and a small
synthetic world written as an Amazon review file (no item metadata: the lessons' other branches).
The second run costs a kernel and a few hundred reviews to embed (lesson 09: 236 s on a 2-core
Xeon at load 17, about a minute on a quiet one), so ``make test`` runs it only for lessons marked
``default`` (none today). ``TEXTREC_READINGS=09`` (or ``=03,06``, or ``all``) runs the chosen
lessons here on both inputs and also checks that the two runs' readings differ:

    TEXTREC_READINGS=all .venv/bin/python -m pytest tests/test_lesson_readings.py

To add a lesson (10, 11): tag its reading cells ``reading``, then give it an entry in
``LESSONS`` (the values its readings print, and a second input).
"""

from __future__ import annotations

import json

import nbformat
import pytest

from tests import lesson_readings as lr
from textrec.evaluation import readings


def test_every_registered_lesson_tags_its_readings():
    for name in lr.LESSONS:
        notebook = nbformat.read(lr.notebook_path(name), as_version=4)
        assert lr.reading_cells(notebook), f"{name} has no cell tagged 'reading'"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(lr.LESSONS))
def test_readings_match_each_run(name, tmp_path_factory):
    lesson, both = lr.LESSONS[name], lr.wanted(name)
    if not (lesson.default or both):
        pytest.skip(f"runs with TEXTREC_READINGS={name[:2]} (or all); make test checks its "
                    "synthetic run under nbval")
    folder = tmp_path_factory.mktemp(f"readings-{name[:2]}")
    notebook = nbformat.read(lr.notebook_path(name), as_version=4)
    inputs = [{}, lesson.other_input] if both else [lesson.other_input]
    runs = []
    for given in inputs:
        executed = lr.execute(lr.with_inputs(notebook, given, lesson.values, folder), folder)
        runs.append(lr.check_run(name, executed))
    problems = [f"input {n + 1}: {p}" for n, (_, found) in enumerate(runs) for p in found]
    assert not problems, "\n".join(problems)
    if both:
        assert runs[0][0] != runs[1][0], "two inputs printed the same readings: not computed"


# ------------------------------------------------------------------ the mechanism itself

def _run(reading_text: str, values: dict):
    cell = nbformat.v4.new_code_cell("print('x')", metadata={"tags": ["reading"]})
    cell.outputs = [nbformat.v4.new_output("stream", text=reading_text)]
    last = nbformat.v4.new_code_cell("")
    last.outputs = [nbformat.v4.new_output("stream", text=lr.MARK + json.dumps(values) + "\n")]
    return nbformat.v4.new_notebook(cells=[cell, last])


def test_a_remembered_reading_is_caught(monkeypatch):
    """A reading cell that prints a constant sentence: its number is not this run's value."""
    monkeypatch.setitem(lr.LESSONS, "_probe",
                        lr.Lesson(values={"gain": ("gain", "{:+.4f}")}, other_input={}))
    _, problems = lr.check_run("_probe", _run("EASE wins by +0.0100.\n", {"gain": 0.0234}))
    assert problems == ["gain: this run's value '+0.0234' is not in its readings"]
    worded = readings.difference("A", "B", 0.0234, 0.01, 0.03, "NDCG") + "\n"
    assert lr.check_run("_probe", _run(worded, {"gain": 0.0234}))[1] == []
    wrong = worded.replace("above 0", "holds 0")
    assert "the interval is above 0" in lr.check_run("_probe", _run(wrong, {"gain": 0.0234}))[1][0]
    assert lr.check_run("_probe", _run("\n", {"gain": 0.0}))[1][0] == (
        "reading cell 1 printed nothing")


def test_inputs_are_injected_after_the_parameters_cell(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import textrec"),
        nbformat.v4.new_code_cell("SEED = 42", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("x = SEED")])
    world = lr.World(12, 24, 80, seed=3)
    changed = lr.with_inputs(notebook, {"SEED": 7, "DATA": world}, {"x": ("x", "{}")}, tmp_path)
    assert changed.cells[1].source == "SEED = 42" and changed.cells[2].source.startswith(
        "SEED = 7\nDATA = '")
    assert (tmp_path / "world-12-24-80-3.json.gz").is_file()
    assert lr.MARK in changed.cells[-1].source and len(notebook.cells) == 3
