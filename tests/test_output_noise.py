"""No log noise in what a learner sees (issue #17).

Every lesson and solution is checked under nbval by ``tests/nbval_noise.py``; these tests
check that the patterns catch the real lines, that the plugin fails a noisy cell, and that
importing the stack writes nothing to stderr.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat

from tests.nbval_noise import noise_in_outputs
from textrec import _logging

ROOT = Path(__file__).resolve().parents[1]

# Lines copied from real runs (TensorFlow 2.19-2.21 on CPU machines and Colab).
REAL_NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796549398.040508    6360 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "E0000 00:00:1733150429.612340    1181 cuda_executor.cc:1228] INTERNAL: CUDA Runtime error: "
    "Failed call to cudaGetRuntimeVersion",
    "E0000 00:00:1796549398.1 77 cuda_executor.cc:1040] failed call to cuInit: INTERNAL: CUDA "
    "error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "TensorFlow and JAX classes are deprecated and will be removed in Transformers v5. We "
    "recommend migrating to PyTorch classes or pinning your version of Transformers.",
    "2026-12-06 10:00:02.341295: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] "
    "Unable to register cuFFT factory: Attempting to register factory for plugin cuFFT when one "
    "has already been registered",
    "2026-12-06 10:00:12.908247: E external/local_xla/xla/stream_executor/cuda/cuda_platform.cc:51]"
    " failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "INFO:tensorflow:Assets written to: /tmp/export/1/assets",
    "WARNING:tensorflow:`evaluate()` received a value for `sample_weight`, but `weighted_metrics` "
    "were not provided.  Did you mean to pass metrics to `weighted_metrics` in `compile()`?",
    "TqdmWarning: IProgress not found. Please update jupyter and ipywidgets.",
]


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT), TEXTREC_PROFILE="quick")
    env.pop("TEXTREC_SHOW_NATIVE_LOGS", None)
    return env


def test_patterns_catch_the_real_lines_and_spare_a_lesson_line():
    for line in REAL_NOISE:
        assert noise_in_outputs([{"output_type": "stream", "name": "stderr", "text": line}]), line
    lesson = {"output_type": "stream", "name": "stdout",
              "text": "epoch 1/1: loss 0.4321\nvalidation NDCG@10 0.2590 (INFO: none)\n"}
    assert noise_in_outputs([lesson]) == []


def test_native_start_up_lines_are_dropped_and_other_lines_kept():
    # The first three lines are TensorFlow's; the last is a real error and must stay.
    assert _logging.is_native_noise(REAL_NOISE[0]) and _logging.is_native_noise(REAL_NOISE[1])
    assert _logging.is_native_noise(REAL_NOISE[3])
    assert _logging.is_native_noise(REAL_NOISE[5]) and _logging.is_native_noise(REAL_NOISE[6])
    assert not _logging.is_native_noise("2026-12-06 10:00:02.341295: E x.cc:1] OOM when allocating")
    assert not _logging.is_native_noise("E0000 00:00:1.0 1 op_kernel.cc:1] OOM when allocating")
    assert not _logging.is_native_noise("Traceback (most recent call last):")


def test_importing_the_stack_writes_nothing_to_stderr():
    code = textwrap.dedent("""
        import textrec
        import tensorflow as tf
        import tensorflow_recommenders, tf_keras, transformers
        from tqdm.auto import tqdm
        print(float(tf.reduce_sum(tf.constant([1.0, 2.0]))))
        import sys; print("kept", file=sys.stderr)   # a real stderr line still shows
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "3.0"
    assert run.stderr == "kept\n", run.stderr


def test_nbval_fails_a_cell_with_log_noise(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("print('a clean line')"),
        nbformat.v4.new_code_cell(f"import sys; print({REAL_NOISE[7]!r}, file=sys.stderr)"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = tmp_path / "noisy.ipynb"
    nbformat.write(notebook, path)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.nbval_noise", "--nbval-lax", str(path),
         "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
        capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=300)
    assert "1 failed, 1 passed" in run.stdout, run.stdout[-2000:]
    assert "INFO:tensorflow:Assets written" in run.stdout



def test_in_a_notebook_native_lines_after_import_are_dropped_and_errors_kept(monkeypatch):
    from nbclient import NotebookClient

    line = ("E0000 00:00:1796549811.541847   13201 util.cc:131] oneDNN supports DT_STRING only on "
            "platforms with AVX-512. Falling back to the default Eigen-based implementation.")
    written = (line + "\n" + "a real error line\n").encode()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in (
        "import os, time\nimport textrec\nimport tensorflow as tf",
        f"os.write(2, {written!r})\ntime.sleep(1)",
    )]
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = notebook.cells[1].outputs
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "a real error line" in text
    assert noise_in_outputs(outputs) == [], text


def test_inside_a_pipeline_stage_only_the_stage_bar_draws(monkeypatch):
    monkeypatch.delenv("TEXTREC_PROGRESS", raising=False)
    outer = _logging.progress_bar(range(2), disable=False)
    with _logging.only_outer_progress():
        inner = _logging.progress_bar(range(2))
    after = _logging.progress_bar(range(2))
    assert not outer.disable and inner.disable and not after.disable
    for bar in (outer, inner, after):
        bar.close()
