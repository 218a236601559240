"""The figure check (issue #17): textrec.plotting.check_figure and its notebook hook."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from textrec import plotting  # noqa: E402
from textrec.data.prepare import load_source  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _good():
    figure, ax = plt.subplots(figsize=(5, 3))
    ax.plot([0, 1], [0, 1], label="a")
    ax.plot([0, 1], [1, 0], label="b")
    ax.set(title="Two lines", xlabel="x", ylabel="y")
    ax.legend()
    return figure


def test_a_complete_figure_passes():
    plotting.check_figure(_good())


def test_the_course_figures_pass():
    reviews, _, _, name = load_source("synthetic", profile="quick")
    plotting.check_figure(plotting.data_overview(reviews, title=name))
    plotting.check_figure(plotting.pipeline_diagram())


def test_each_problem_is_named():
    figure, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with pytest.raises(ValueError, match="no title"):
        plotting.check_figure(figure)
    ax.set_title("t")
    with pytest.raises(ValueError, match="no x-axis label"):
        plotting.check_figure(figure)
    ax.set(xlabel="x", ylabel="y")
    plotting.check_figure(figure)
    # Eleven scatter series on the default ten-colour cycle: the 1st and 11th share blue.
    figure, ax = plt.subplots()
    for index in range(11):
        ax.scatter([index], [index], label=f"category {index}")
    ax.set(title="t", xlabel="x", ylabel="y")
    ax.legend()
    with pytest.raises(ValueError, match="'category 0' and 'category 10' share a colour"):
        plotting.check_figure(figure)
    figure, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["a", "b"], [1, 2])                     # category tick labels stand for an x label
    ax.set(title="t", ylabel="count")
    ax.text(0.5, 0.5, "one label", transform=ax.transAxes)
    plotting.check_figure(figure)
    ax.text(0.52, 0.5, "another label", transform=ax.transAxes)
    with pytest.raises(ValueError, match="'one label' overlaps .* 'another label'"):
        plotting.check_figure(figure)


@pytest.mark.parametrize("backend", ["Agg", "inline"])
def test_under_tests_a_bad_figure_fails_its_notebook_cell(monkeypatch, backend):
    # inline: the check must run before matplotlib-inline shows and closes the figure.
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in (
        "import textrec\nimport matplotlib.pyplot as plt",
        "figure, ax = plt.subplots(); ax.plot([0, 1])\n"
        "ax.set(title='fine', xlabel='x', ylabel='y')",
        "figure, ax = plt.subplots(); ax.plot([0, 1]); ax.set(xlabel='x', ylabel='y')",
    )]
    for name, value in (("TEXTREC_CHECK_FIGURES", "1"), ("PYTHONPATH", str(ROOT))):
        monkeypatch.setenv(name, value)   # the kernel inherits them
    if backend == "Agg":
        monkeypatch.setenv("MPLBACKEND", "Agg")
    else:
        monkeypatch.delenv("MPLBACKEND", raising=False)   # ipykernel then draws inline
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    errors = [[o for o in cell.outputs if o.output_type == "error"] for cell in notebook.cells]
    assert errors[0] == [] and errors[1] == []
    assert errors[2] and errors[2][0].ename == "ValueError" and "no title" in errors[2][0].evalue
    shown = [o for o in notebook.cells[1].outputs if "image/png" in o.get("data", {})]
    assert bool(shown) == (backend == "inline")
