"""Outputs that are either complete or absent: everything is written under a temporary
name beside its destination and renamed into place, so an interrupted run never leaves a
file that a re-run would take for finished work, and a re-run removes the temporary files
an interrupted one left (`remove_partials`)."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


class OutputError(OSError):
    """An output cannot be written: its directory is a file, read-only, or the disk is full.
    One line naming the output; an OSError, so every tool's OSError handler reports it."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem

    def __reduce__(self):  # rebuilt from its parts when it crosses a process pool
        return type(self), (self.path, self.problem)


def partial_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + PARTIAL_SUFFIX)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yields the temporary path to write; renames it to `path` if the block succeeds and
    removes it if the block fails. An OSError, in the block or in the renaming, becomes an
    OutputError naming `path`."""
    temporary = partial_path(path)
    try:
        temporary.parent.mkdir(parents=True, exist_ok=True)
        yield temporary
        os.replace(temporary, path)
    except OutputError:
        raise
    except OSError as err:
        raise OutputError(path, f"cannot write ({err.strerror or err})") from None
    finally:
        # If this fails too, the write's error is the one to report; the next run removes the file.
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(text)


def remove_partials(root: str | os.PathLike) -> int:
    """Removes the temporary files that runs killed in the middle of a write left under
    `root`; returns how many."""
    stale = [path for path in Path(root).rglob("*" + PARTIAL_SUFFIX) if path.is_file()]
    for path in stale:
        try:
            path.unlink()
        except OSError as err:
            raise OutputError(path, f"cannot remove this temporary file of a killed run ({err.strerror})") from None
    return len(stale)
