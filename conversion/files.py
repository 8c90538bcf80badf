"""Outputs that are either complete or absent: everything is written under a temporary
name beside its destination and renamed into place, so an interrupted run never leaves a
file that a re-run would take for finished work."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def partial_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + PARTIAL_SUFFIX)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yields the temporary path to write; renames it to `path` if the block succeeds and
    removes it if the block fails."""
    temporary = partial_path(path)
    temporary.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(text)
