"""Keeping framework noise out of what a learner sees.

A learner's output shows what the lesson prints and nothing else. Four kinds of noise are
handled here, once, when ``textrec`` is imported:

* TensorFlow's C++ start-up lines (``All log messages before absl::InitializeLog()``, ``Could
  not find cuda drivers``, the red ``E0000 ... failed call to cuInit``): TensorFlow writes them
  to the process's stderr file descriptor while it is imported, before any environment
  variable can silence them (``TF_CPP_MIN_LOG_LEVEL`` is not read that early). ``import
  textrec`` installs an import hook that points file descriptor 2 at a temporary file while
  ``tensorflow`` is first imported (and its devices are listed), then writes back every line
  that is not a known start-up message, so a real error still shows. In a notebook kernel,
  fd 2 then stays a pipe read by a thread that drops the same known lines (TensorFlow logs
  some later, e.g. oneDNN's DT_STRING notice at the first training step) and passes every
  other line to the cell's output; ``TEXTREC_SHOW_NATIVE_LOGS=1`` turns all this off;
* Python loggers: ``tensorflow`` (``INFO:tensorflow:Assets written``) is kept at WARNING
  (without its notice that training several models "triggered tf.function retracing"), and
  transformers' one-off "TensorFlow and JAX classes are deprecated" notice is filtered out;
* progress bars: :func:`progress_bar` draws a widget bar in a notebook that has ipywidgets
  (Colab, a JupyterLab with widgets; it disappears when done), no bar in a notebook without
  them (tqdm would warn ``IProgress not found`` and print one text output per update), and a
  text bar in a terminal. ``TEXTREC_PROGRESS=0`` turns every bar off;
* :func:`quiet` raises one logger's level for the span of a call.

``NATIVE_NOISE`` and ``OUTPUT_NOISE`` are the patterns; the tests grep executed lessons for
``OUTPUT_NOISE``.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import warnings

# Lines TensorFlow's C++ writes to fd 2 while it loads, in one of two formats:
#   absl (TensorFlow 2.20 and later): "I0000 00:00:1796549398.040239    6360 port.cc:153] message"
#   TensorFlow's own (2.19, Colab's): "2026-12-06 10:00:02.341295: E external/.../x.cc:467] message"
_ABSL = r"[IWE]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "
_TF = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\] "
_INFO_OR_WARNING = (r"^(?:[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "
                    r"|\d{4}-\d\d-\d\d [\d:.]+: [IW] \S+:\d+\] )")
# The error lines TensorFlow prints on any machine without a usable GPU (Colab's CPU runtime
# included), its duplicate-registration lines on CUDA builds, and oneDNN's string notice.
_KNOWN_ERRORS = (r"(failed call to cuInit|Unable to register cu\w+ factory"
                 r"|computation placer already registered|Could not find cuda drivers"
                 r"|Failed call to cudaGetRuntimeVersion"
                 r"|oneDNN supports DT_STRING only on platforms with AVX-512)")
NATIVE_NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
    re.compile(_INFO_OR_WARNING),  # every info and warning line
    # the second line of cpu_feature_guard's info message
    re.compile(r"^To enable the following instructions: .*rebuild TensorFlow"),
    re.compile(rf"^(?:{_ABSL}|{_TF}).*{_KNOWN_ERRORS}", re.IGNORECASE),
    # Apache Beam's worker processes (lesson 11) say at import that connectors the course does
    # not use are missing (MongoDB's bson, Google's apitools), and announce their log handler
    # before they read the job's log level
    re.compile(r"^(?:WARNING:[\w.]+:)?(?:Could not find a compatible bson package"
               r"|apitools not found, and bigquery client libraries are not available)"),
    re.compile(r"^INFO:__main__:Logging handler created\.$"),
)

# What must never appear in a lesson's output (the tests check executed notebooks for these).
OUTPUT_NOISE = (
    re.compile(r"All log messages before absl::InitializeLog"),
    re.compile(_KNOWN_ERRORS, re.IGNORECASE),
    re.compile(r"oneDNN custom operations are on"),
    re.compile(r"TensorFlow and JAX classes are deprecated"),
    re.compile(r"INFO:tensorflow:"),
    # TensorFlow's Python warnings, e.g. evaluate() weighing samples without weighted_metrics
    re.compile(r"^WARNING:(?:tensorflow|absl):", re.MULTILINE),
    re.compile(r"IProgress not found"),
    re.compile(r"TqdmWarning"),
    # info and warning lines of TensorFlow's C++ (error lines may be real: the known ones above)
    re.compile(_INFO_OR_WARNING, re.MULTILINE),
)

_TRANSFORMERS_NOTICE = "TensorFlow and JAX classes are deprecated"
_TRANSFORMERS_LOGGERS = ("transformers.modeling_tf_utils", "transformers.feature_extraction_utils",
                         "transformers.tokenization_utils_base", "transformers.utils.generic")


@contextlib.contextmanager
def quiet(logger: logging.Logger, level: int = logging.ERROR):
    """Raise ``logger``'s level to ``level`` inside the block, then restore it."""
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def is_native_noise(line: str) -> bool:
    """Whether ``line`` (from fd 2) is one of TensorFlow's known start-up messages."""
    return any(pattern.search(line) for pattern in NATIVE_NOISE)


@contextlib.contextmanager
def native_stderr_filtered():
    """Send what C code writes to fd 2 inside the block to a temporary file; afterwards write
    back (to ``sys.stderr``) every line that is not :func:`is_native_noise`."""
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (some embedded interpreters): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if line and not is_native_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


class _StderrFilter:
    """In a notebook kernel, after TensorFlow is imported: fd 2 becomes a pipe, and a thread
    passes every line that is not :func:`is_native_noise` on to ``sys.stderr`` (the cell's
    output). TensorFlow also logs after import, e.g. oneDNN's "DT_STRING only on platforms
    with AVX-512" when a model with string inputs is first trained."""

    def __init__(self):
        import atexit
        import threading

        sys.stderr.flush()
        self._stream = sys.stderr
        self._saved = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self._read = read
        self._thread = threading.Thread(target=self._pump, name="textrec-stderr", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _pump(self):
        pending = b""
        while True:
            try:
                chunk = os.read(self._read, 65536)
            except OSError:
                break
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            self._write(lines)
        if pending:
            self._write([pending])

    def _write(self, lines):
        kept = [text for text in (line.decode("utf-8", "replace") for line in lines)
                if not is_native_noise(text)]
        if kept:
            try:
                self._stream.write("\n".join(kept) + "\n")
                self._stream.flush()
            except (ValueError, OSError):  # the stream is closed: the kernel is shutting down
                os.write(self._saved, ("\n".join(kept) + "\n").encode())

    def close(self):
        os.dup2(self._saved, 2)           # closes the pipe's last write end: the pump drains
        self._thread.join(timeout=2)


_STDERR_FILTER = None


def _filter_stderr_in_notebooks() -> None:
    global _STDERR_FILTER
    if _STDERR_FILTER is None and _in_notebook():
        try:
            _STDERR_FILTER = _StderrFilter()
        except OSError:
            pass


class _TransformersNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _TRANSFORMERS_NOTICE not in record.getMessage()


class _RetracingNotice(logging.Filter):
    """Drops TensorFlow's "N out of the last M calls to <function> triggered tf.function
    retracing": a lesson that trains several models (each with its own training function)
    triggers it without anything being wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def _after_tensorflow_import(tensorflow) -> None:
    tensorflow.get_logger().setLevel(logging.WARNING)
    tensorflow.get_logger().addFilter(_RetracingNotice())
    # Listing the devices initialises CUDA, which is where cuInit fails on a machine without a
    # GPU; it does not create the runtime, so memory growth and visible devices can still be set.
    tensorflow.config.list_physical_devices()


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with native_stderr_filtered():
            self._loader.exec_module(module)
            _after_tensorflow_import(module)
        _filter_stderr_in_notebooks()


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual, then imports it with :func:`native_stderr_filtered`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: let the ordinary finders answer, then wrap
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Set up everything above; called by ``import textrec`` (idempotent)."""
    if os.environ.get("TEXTREC_SHOW_NATIVE_LOGS") != "1":
        if "tensorflow" in sys.modules:
            sys.modules["tensorflow"].get_logger().setLevel(logging.WARNING)
        elif not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, _QuietTensorFlowFinder())
    # tqdm.auto (imported by transformers, among others) warns when ipywidgets is missing.
    warnings.filterwarnings("ignore", message="IProgress not found")
    for name in _TRANSFORMERS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _TransformersNotice) for f in logger.filters):
            logger.addFilter(_TransformersNotice())


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython() if hasattr(shell, "get_ipython") else None
    return ip is not None and type(ip).__name__ != "TerminalInteractiveShell"


def _widgets_available() -> bool:
    return importlib.util.find_spec("ipywidgets") is not None


_INNER_BARS_OFF = 0


@contextlib.contextmanager
def only_outer_progress():
    """Inside the block, :func:`progress_bar` draws nothing: a bar made before the block (the
    pipeline's stage bar) stays the run's one progress display."""
    global _INNER_BARS_OFF
    _INNER_BARS_OFF += 1
    try:
        yield
    finally:
        _INNER_BARS_OFF -= 1


def progress_bar(iterable=None, **options):
    """A tqdm bar suited to where the code runs (see the module docstring); ``disable=True``
    in ``options`` is respected. Use it like ``tqdm(...)``."""
    off = os.environ.get("TEXTREC_PROGRESS", "1").strip().lower() in ("0", "false", "no", "off")
    off = off or _INNER_BARS_OFF > 0
    if _in_notebook():
        if _widgets_available():
            from tqdm.notebook import tqdm
            options.setdefault("leave", False)
        else:
            from tqdm import tqdm
            off = True
    else:
        from tqdm import tqdm
    options["disable"] = bool(options.get("disable")) or off
    return tqdm(iterable, **options)
