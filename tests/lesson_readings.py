"""Readings checked against the run that printed them (used by ``test_lesson_readings.py`` and
the ``nbval_readings`` plugin).

A *reading* is a paragraph a lesson prints to interpret its results; its cell is tagged
``reading``. :data:`LESSONS` says, for each lesson that joins the check, which values its
readings print (expressions evaluated in the kernel after the last cell, with the format the
lesson prints them in) and the second input the readings test runs it on.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import nbformat

from textrec.evaluation import readings

ROOT = Path(__file__).resolve().parents[1]
MARK = "TEXTREC-READINGS-VALUES:"


@dataclasses.dataclass(frozen=True)
class World:
    """A small synthetic world written as an Amazon review file (no item metadata)."""

    users: int
    items: int
    reviews: int
    seed: int

    def write(self, folder: Path) -> Path:
        from textrec.data.synthetic import generate_world

        path = folder / f"world-{self.users}-{self.items}-{self.reviews}-{self.seed}.json.gz"
        if not path.is_file():
            generate_world(self.users, self.items, self.reviews, seed=self.seed).write_amazon_json(
                path)
        return path


@dataclasses.dataclass(frozen=True)
class Lesson:
    """What a lesson's readings must show, and the second input it is checked on.

    ``values``: label -> (expression, format): each expression is evaluated in the kernel after
    the last cell, and its value, formatted as the lesson prints it, must appear in the printed
    readings. ``other_input``: parameters for a second run (``World`` values become the file's
    path); the first input is the synthetic default. ``default``: the readings test runs the
    second input in every ``make test`` (the first is checked there anyway, by the nbval plugin);
    otherwise only when ``TEXTREC_READINGS`` asks for the lesson.
    """

    values: dict
    other_input: dict
    default: bool = False


LESSONS = {
    "09_explanations_feedback": Lesson(
        values={
            "faithfulness ratio, text-only": ("faith_table['ratio'].iloc[0]", "{:.2f}"),
            "faithfulness ratio, EASE": ("faith_table['ratio'].iloc[1]", "{:.2f}"),
            "live vs frozen": ("comparisons['difference'].iloc[0]", "{:+.4f}"),
            "EASE retrain vs frozen": ("comparisons['difference'].iloc[6]", "{:+.4f}"),
            "smallest period": ("periods['reviews'].min()", "{:,}"),
            "text retrains that paid": ("int(value.loc['text: retrain every 1 vs live', "
                                        "'retrain paid'].sum())", "paid in {}"),
        },
        other_input={"DATA": World(50, 24, 400, seed=1), "N_PERIODS": 3, "LATENCY_USERS": 20,
                     "CUTOFF_QUANTILE": 0.5}),
    "03_interest_vectors": Lesson(
        values={"chosen weighting": ("chosen", "chosen on validation: {}"),
                "last paired difference": ("paired['difference']", "{:+.4f}")},
        other_input={"DATA": World(50, 24, 400, seed=1), "HALF_LIFE_DAYS": 30.0}),
    "06_evaluation": Lesson(
        values={"best baseline": ("best_baseline", "{}"),
                "course model vs best baseline": ("paired['difference'].iloc[0]", "{:+.4f}")},
        other_input={"DATA": World(50, 24, 400, seed=1), "N_BOOTSTRAP": 200}),
    "04_two_tower_retrieval": Lesson(
        values={"text-aware vs id-only": (
                    "paired_tests['text-aware two-tower vs id-only two-tower, all users']"
                    "['difference']", "{:+.4f}"),
                "largest part of the scores": ("largest", "is the {}")},
        other_input={"DATA": World(50, 24, 400, seed=1)}),
    "05_collaborative_filtering_joint_loss": Lesson(
        values={"MF trained to rank vs on stars": ("mf_tests['MF trained to rank vs MF on stars']"
                                                   "['difference']", "{:+.4f}"),
                "adding retrieval to rating only": ("readings['NDCG@10 change'].iloc[0]",
                                                    "{:+.4f}"),
                "weightings below the mean's RMSE": ("len(below_mean)", "({} of"),
                "second encoder vs frozen": ("comparison['NDCG@10 change'].iloc[1]", "{:+.4f}")},
        other_input={"DATA": World(50, 24, 400, seed=1)}),
}


def wanted(name: str) -> bool:
    """Whether ``TEXTREC_READINGS`` asks for this lesson (``all``, or its number: ``03,06``)."""
    asked = os.environ.get("TEXTREC_READINGS", "")
    return asked == "all" or name[:2] in asked.split(",")


def notebook_path(name: str) -> Path:
    return ROOT / "notebooks" / f"{name}.ipynb"


def with_inputs(notebook, inputs: dict, values: dict, folder: Path):
    """The notebook with ``inputs`` assigned after its parameters cell and a last cell that
    prints ``values`` as JSON."""
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    assignments = []
    for name, value in inputs.items():
        value = str(value.write(folder)) if isinstance(value, World) else value
        assignments.append(f"{name} = {value!r}")
    index = next(i for i, cell in enumerate(notebook.cells)
                 if "parameters" in cell.metadata.get("tags", []))
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell("\n".join(assignments)))
    notebook.cells.append(nbformat.v4.new_code_cell(values_code(values)))
    return notebook


def execute(notebook, folder: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    environment = {"TEXTREC_PROFILE": "quick", "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1",
                   "TRANSFORMERS_OFFLINE": "1"}
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    try:
        NotebookClient(notebook, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def printed(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif output.get("output_type") in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def reading_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"
            and "reading" in cell.metadata.get("tags", [])]


def values_code(values: dict) -> str:
    """Code that prints the lesson's values as JSON after :data:`MARK`."""
    dump = ", ".join(f"{label!r}: {expression}" for label, (expression, _) in values.items())
    return ("import json as _json\n"
            f"print({MARK!r} + _json.dumps({{{dump}}}, default=lambda v: v.item()))")


def parse_values(text: str) -> dict:
    return json.loads(text.split(MARK, 1)[1].strip().splitlines()[0])


def check_readings(name: str, texts: list[str], values: dict) -> list[str]:
    """The problems of one run's readings: ``texts`` are its reading cells' printed outputs,
    ``values`` the lesson's values in that run."""
    problems = [f"reading cell {i + 1} printed nothing" for i, text in enumerate(texts)
                if not text.strip()]
    text = "\n".join(texts)
    problems += readings.check_printed(text)[1]
    for label, (_, form) in LESSONS[name].values.items():
        shown = form.format(values[label])
        if shown not in text:
            problems.append(f"{label}: this run's value {shown!r} is not in its readings")
    return problems


def check_run(name: str, executed) -> tuple[str, list[str]]:
    """(the readings printed, the problems found) of one executed notebook whose last cell
    printed the values (:func:`with_inputs`)."""
    texts = [printed(cell) for cell in reading_cells(executed)]
    values = parse_values(printed(executed.cells[-1]))
    return "\n".join(texts), check_readings(name, texts, values)
