"""Keeps TensorFlow's native start-up logging out of our commands' output.

Every entry point imports this module before anything imports tensorflow. On a machine
without a GPU, TensorFlow's native libraries log at every start that no CUDA driver was
found, that oneDNN is on, which CPU instructions the binary does not use, and that TensorRT
is missing. TF_CPP_MIN_LOG_LEVEL (3 here unless the user set it) used to drop these, but TF
2.21 writes some of them while loading, before it reads the variable
(https://github.com/tensorflow/tensorflow/issues/100442). So the first import of tensorflow,
whenever and wherever it happens (the tools that never read records never import it), runs
with the process's stderr captured, and every captured line is written back except the
native log lines that TF_CPP_MIN_LOG_LEVEL would have dropped: Python warnings and anything
else still reach the user, and an error of TensorFlow's is raised as a Python exception with
its message. `TF_CPP_MIN_LOG_LEVEL=0 python main.py ...` shows the native logs again.

XLA (`--jit_compile`) and the multi-worker runtime log a few INFO lines later, through a copy
of absl bundled inside TensorFlow that no environment variable reaches; those remain.
"""
import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# absl's native format: severity letter, MMDD, time, thread, file:line]; and the notice absl
# writes before its logging is initialised.
_NATIVE_LINE = re.compile(r"([IWEF])\d{4} [\d:.]+ +\d+ [^ \]]+:\d+\] ")
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def dropped(line: str, level: int) -> bool:
    """Whether TF_CPP_MIN_LOG_LEVEL=level drops this line of stderr: 1 drops native INFO,
    2 also WARNING, 3 also ERROR; FATAL and every other line always show."""
    if line.startswith(_ABSL_NOTICE):
        return level >= 1
    match = _NATIVE_LINE.match(line)
    return bool(match) and "IWEF".index(match.group(1)) < min(level, 3)


@contextlib.contextmanager
def native_logs_filtered(level: int):
    """File descriptor 2 captured for the block, then written back without the lines
    `dropped` at `level` (native code writes to the descriptor, not to sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not dropped(line, level)))
            sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, level: int):
        self._loader, self._level = loader, level

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with native_logs_filtered(self._level):
            self._loader.exec_module(module)

    def __getattr__(self, name: str):  # resource readers and the like
        return getattr(self._loader, name)


class _QuietTensorflow(importlib.abc.MetaPathFinder):
    """Finds tensorflow as the other finders do, once, and loads it through `_QuietLoader`."""

    def __init__(self, level: int):
        self._level = level

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self._level)
        return spec


def _level() -> int:
    try:
        return int(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    except ValueError:
        return 0


if "tensorflow" not in sys.modules and _level() > 0:
    sys.meta_path.insert(0, _QuietTensorflow(_level()))
