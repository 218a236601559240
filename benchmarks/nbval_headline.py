"""A pytest plugin for ``make gpu-check``: after a notebook's last cell has run under nbval, it
evaluates the lesson's headline expressions (:data:`HEADLINES`; none for a solution, whose
headline is its checks passing) in the same kernel and writes them, with the
kernel's TensorFlow peak GPU memory, as JSON to ``TEXTREC_HEADLINE_FILE``.

Load it with ``-p benchmarks.nbval_headline``; without ``TEXTREC_HEADLINE_FILE`` it does
nothing. The notebooks are not edited: an expression that no longer evaluates (a renamed
variable, a cell that failed) is recorded under ``errors`` with its exception, not raised.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# notebook stem -> {label: expression evaluated in the notebook's namespace after its last cell}
HEADLINES = {
    "00_overview": {"profile": "config.get_profile().name",
                    "GPUs TensorFlow sees": "[device.name for device in __import__("
                                            "'tensorflow').config.list_physical_devices('GPU')]"},
    "01_data_preparation": {"reviews after cleaning": "len(reviews)",
                            "users": "reviews[schema.USER].nunique()",
                            "test reviews": "len(split.test)"},
    "02_bert_finetuning": {"test accuracy and macro-F1": "comparison"},
    "03_interest_vectors": {"HR@10 and NDCG@10": "results"},
    "04_two_tower_retrieval": {"validation HR@10 and NDCG@10": "results"},
    "05_collaborative_filtering_joint_loss": {"joint-loss ablation (validation)": "ablation",
                                              "what each term adds": "readings"},
    "06_evaluation": {"test metrics with intervals": "table"},
    "07_privacy_dp_sgd": {"DP-SGD at each epsilon": "results"},
    "08_deployment_export": {"serving latency (ms)": "table"},
    "10_sequences_and_new_items": {"test NDCG@10 with intervals (refit)": "table",
                                   "new items: NDCG@10 against a random ranking": "new_table",
                                   "where text helps": "where_text"},
    "11_beyond_one_machine": {"Beam job equals one process": "equal",
                              "training on 1 and 2 workers": "training",
                              "IVF sweep": "sweep"},
}

SNIPPET = '''
def _textrec_headline(path, expressions):
    import json, math, sys
    def plain(value):
        if hasattr(value, "to_dict") and hasattr(value, "index"):  # DataFrame or Series
            value = value.to_dict(orient="index") if hasattr(value, "columns") else value.to_dict()
        if isinstance(value, dict):
            return {str(key): plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            value = value.item()
        if isinstance(value, float):
            return round(value, 5) if math.isfinite(value) else None
        return value if isinstance(value, (int, str, bool, type(None))) else str(value)
    out = {"values": {}, "errors": {}, "tf_peak_gpu_mib": None}
    for label, expression in expressions.items():
        try:
            out["values"][label] = plain(eval(expression, globals()))
        except Exception as error:
            out["errors"][label] = f"{type(error).__name__}: {error}"
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        try:
            if tf.config.list_physical_devices("GPU"):
                peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
                out["tf_peak_gpu_mib"] = round(peak / 2 ** 20, 1)
        except Exception as error:
            out["errors"]["tf_peak_gpu_mib"] = f"{type(error).__name__}: {error}"
    with open(path, "w") as handle:
        json.dump(out, handle, indent=1)
_textrec_headline(__PATH__, __EXPRESSIONS__)
del _textrec_headline
'''


@pytest.hookimpl(tryfirst=True)  # before nbval's teardown stops the kernel
def pytest_runtest_teardown(item, nextitem):
    path = os.environ.get("TEXTREC_HEADLINE_FILE")
    notebook = getattr(item, "parent", None)
    kernel = getattr(notebook, "kernel", None)
    last_cell = nextitem is None or getattr(nextitem, "parent", None) is not notebook
    if not path or kernel is None or not last_cell or not kernel.is_alive():
        return
    lesson = Path(str(notebook.path))
    # Solutions share the lessons' file names, not their variables: they get no expressions.
    expressions = HEADLINES.get(lesson.stem, {}) if lesson.parent.name == "notebooks" else {}
    code = SNIPPET.replace("__PATH__", repr(path)).replace("__EXPRESSIONS__", repr(expressions))
    message = kernel.execute_cell_input(code, allow_stdin=False)
    try:
        kernel.await_reply(message, timeout=120)
    except Exception:  # noqa: BLE001  (a missing headline is reported by the runner)
        pass
