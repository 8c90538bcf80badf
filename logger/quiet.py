"""Keeps TensorFlow's native start-up logging out of our commands' output.

Every entry point imports this module before anything imports tensorflow. On a machine
without a GPU, TensorFlow's native libraries log at every start that no CUDA driver was
found, that oneDNN is on, which CPU instructions the binary does not use, and that TensorRT
is missing. TF_CPP_MIN_LOG_LEVEL (3 here unless the user set it) used to drop these, but TF
2.21 writes some of them while loading, before it reads the variable
(https://github.com/tensorflow/tensorflow/issues/100442). So the first import of tensorflow,
whenever and wherever it happens (the tools that never read records never import it), runs
with the process's stderr sent through a small filter process, which passes every line on
as it comes except the native log lines that TF_CPP_MIN_LOG_LEVEL would have dropped: Python
warnings, tracebacks and a FATAL line written just before a native abort still reach the
user. `TF_CPP_MIN_LOG_LEVEL=0 python main.py ...` shows the native logs again.

XLA (`--jit_compile`) and the multi-worker runtime log a few INFO lines later, through a copy
of absl bundled inside TensorFlow that no environment variable reaches; those remain.
"""
import contextlib
import importlib.abc
import importlib.util
import os
import re
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The two native formats, absl's ("I1201 18:02:01.123456  7 file.cc:12] ") and TensorFlow's
# own ("2025-09-17 14:44:05.157831: I path/file.cc:32] "), and the notice absl writes before
# its logging is initialised.
_NATIVE_LINE = re.compile(r"([IWEF])\d{4} [\d:.]+ +\d+ [^ \]]+:\d+\] |\d{4}-\d\d-\d\d [\d:.]+: ([IWEF]) [^ \]]+:\d+\] ")
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def dropped(line: str, level: int) -> bool:
    """Whether TF_CPP_MIN_LOG_LEVEL=level drops this line of stderr: 1 drops native INFO,
    2 also WARNING, 3 also ERROR; FATAL and every other line always show."""
    if line.startswith(_ABSL_NOTICE):
        return level >= 1
    match = _NATIVE_LINE.match(line)
    return bool(match) and "IWEF".index(match.group(1) or match.group(2)) < min(level, 3)


@contextlib.contextmanager
def native_logs_filtered(level: int):
    """File descriptor 2 sent, for the block, through a filter process (this file run as a
    script) that writes the lines not `dropped` at `level` to the real stderr as they come:
    native code writes to the descriptor, and what it writes before an abort is not lost.
    Without a stderr to filter, the block runs as it is."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError):  # sys.stderr is None, or descriptor 2 is closed
        yield
        return
    try:
        passer = subprocess.Popen([sys.executable, os.path.abspath(__file__), str(level)], stdin=subprocess.PIPE)
    except OSError:
        os.close(saved)
        yield
        return
    os.dup2(passer.stdin.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        passer.stdin.close()
        passer.wait()
        with contextlib.suppress(AttributeError, OSError):
            sys.stderr.flush()


def _pass_on(level: int) -> None:
    """The filter process: stdin to stderr, line by line, without the dropped lines."""
    for raw in sys.stdin.buffer:
        line = raw.decode(errors="replace")
        if not dropped(line, level):
            sys.stderr.write(line)
            sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, finder: "_QuietTensorflow"):
        self._loader, self._finder = loader, finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self._finder)
        with native_logs_filtered(self._finder.level):
            self._loader.exec_module(module)

    def __getattr__(self, name: str):  # resource readers and the like
        return getattr(self._loader, name)


class _QuietTensorflow(importlib.abc.MetaPathFinder):
    """Finds tensorflow as the other finders do and loads it through `_QuietLoader`; it
    steps aside once tensorflow is loaded."""

    def __init__(self, level: int):
        self.level, self._finding = level, False

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self._finding:
            return None
        self._finding = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._finding = False
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self)
        return spec


def _level() -> int:
    try:
        return int(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    except ValueError:
        return 0


if __name__ == "__main__":
    _pass_on(int(sys.argv[1]))
elif "tensorflow" not in sys.modules and (level := _level()) > 0:
    sys.meta_path.insert(0, _QuietTensorflow(level))
