"""Split lists: plain text, one record file per line.

AVIA, as the original generate_lists.py: records of each recording grouped into blocks of
`num_samples` consecutive seconds (a recording's tail shorter than a block is dropped), the
blocks of all recordings shuffled with numpy's legacy generator seeded 42, then cut:
    split_mode 0: training int(80 % of records / n) blocks, validation int(10 % / n), testing
                  the rest; 1: training 80 % + 10 %, validation the rest; 2: all in dataset.txt
into ROOT/{n}_seconds[_location_L]/lists/ (`1_second` for n = 1, as the original named it).
Blocks of one recording land in different splits, so neighbouring seconds of one recording
are in training and in testing. `disjoint` ("recording" or "subject") shuffles whole
recordings or subjects instead, with the same proportions, into a directory of its own
(`..._recording_disjoint`), so the paper's split stays where it was. Recordings are split
action by action (each action's in these proportions, at least one in every split), so
validation and testing hold every action, as a subject-disjoint split does by construction.

ACIVW, as the fixed lists A shipped (reconstructed from their description; the lists
themselves are the authority): per class, videos longest first go to training while the
class's training seconds stay within 75 %, then to validation while it stays within half of
the rest, then to testing; the first video of a split goes in even if it overshoots. Writes
ROOT/lists/.

Lines are absolute paths, or with `relative` paths relative to ROOT, which whoever reads
the list must be given (`dataloader.windows.read_list`).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from conversion.files import write_text_atomic
from conversion.recordings import count_files, find_recording_dirs, record_name
from dataloader.datasets import ACIVW, ACIVW_SPEC, AVIA, AVIA_SPEC

SEED = 42
TRAIN_FRACTION, VALID_FRACTION = 0.8, 0.1
ACIVW_TRAIN_FRACTION, ACIVW_VALID_FRACTION_OF_REST = 0.75, 0.5
SPLIT_NAMES = {0: ("training", "validation", "testing"), 1: ("training", "validation"), 2: ("dataset",)}
DISJOINT_UNITS = ("recording", "subject")


@dataclasses.dataclass(frozen=True)
class RecordingRecords:
    relative: Path
    numbers: tuple[int, ...]
    files: tuple[Path, ...]  # absolute, in time order


def recording_records(root: str | os.PathLike, flavour: str) -> list[RecordingRecords]:
    """Every converted recording under `root` and its records Data_001 ... Data_N; a gap
    in the numbering is an error, since blocks and greedy splits count consecutive seconds."""
    root = Path(os.path.abspath(root))
    found = []
    for relative, numbers in find_recording_dirs(root, flavour):
        directory = root / relative
        count = count_files(directory, ".tfrecord")
        files = tuple(directory / record_name(second) for second in range(count))
        missing = [path for path in files if not path.is_file()]
        if missing:
            raise FileNotFoundError(f"{missing[0]}: missing record, while {directory} holds {count} records")
        found.append(RecordingRecords(relative, numbers, files))
    if not found:
        raise ValueError(f"{root}: no converted {flavour.upper()} recordings")
    return found


def _unit_counts(n: int, split_mode: int) -> list[int]:
    """Whole units (recordings, subjects) per split in the original proportions, at least
    one per split."""
    fractions = {0: (TRAIN_FRACTION, VALID_FRACTION), 1: (TRAIN_FRACTION + VALID_FRACTION,), 2: ()}
    fractions = fractions[split_mode]
    if n < len(fractions) + 1:
        raise ValueError(f"{n} units cannot make {len(fractions) + 1} disjoint splits")
    counts = [max(1, round(n * fraction)) for fraction in fractions]
    counts.append(n - sum(counts))
    while counts[-1] < 1:
        counts[counts.index(max(counts))] -= 1
        counts[-1] += 1
    return counts


def avia_splits(
    root: str | os.PathLike,
    location: int | None = None,
    num_samples: int = 1,
    split_mode: int = 0,
    seed: int = SEED,
    disjoint: str | None = None,
) -> dict[str, list[Path]]:
    """Split name -> record paths, as the module docstring describes."""
    if num_samples < 1:
        raise ValueError("num_samples must be at least 1")
    recordings = [r for r in recording_records(root, AVIA)
                  if location is None or AVIA_SPEC.number(r.numbers, "location") == location]
    if not recordings:
        raise ValueError(f"{root}: no converted recordings of location {location}")
    blocks = []  # (recording, files of one block), in the original's order
    for recording in recordings:
        usable = num_samples * (len(recording.files) // num_samples)
        blocks += [(recording, recording.files[i:i + num_samples]) for i in range(0, usable, num_samples)]
    names = SPLIT_NAMES[split_mode]
    rng = np.random.RandomState(seed)
    if disjoint is None:
        num_files = len(blocks) * num_samples
        train = int(num_files * TRAIN_FRACTION / num_samples)
        valid = int(num_files * VALID_FRACTION / num_samples)
        if split_mode == 1:
            train, valid = train + valid, len(blocks)
        elif split_mode == 2:
            train = len(blocks)
        order = list(range(len(blocks)))
        rng.shuffle(order)
        cuts = np.cumsum([train, valid])[: len(names) - 1]
        parts = np.split(np.asarray(order, dtype=int), cuts)
        return {name: [f for i in part for f in blocks[i][1]] for name, part in zip(names, parts)}
    if disjoint not in DISJOINT_UNITS:
        raise ValueError(f"disjoint must be one of {DISJOINT_UNITS}, got {disjoint!r}")

    def unit(recording: RecordingRecords):
        return recording.relative if disjoint == "recording" else AVIA_SPEC.number(recording.numbers, "subject")

    units = sorted({unit(r) for r, _ in blocks})
    rng.shuffle(units)
    # Recordings are split action by action, so every split holds every action in the same
    # proportions; a subject performs every action already.
    strata = {}
    if disjoint == "recording":
        action_of = {unit(r): AVIA_SPEC.number(r.numbers, "action") for r, _ in blocks}
        for u in units:
            strata.setdefault(action_of[u], []).append(u)
    else:
        strata[None] = units
    split_of = {}
    for action, members in sorted(strata.items()):
        try:
            counts = _unit_counts(len(members), split_mode)
        except ValueError as error:
            raise ValueError(f"{root}: {'' if action is None else f'action {action}: '}{error}") from None
        start = 0
        for name, count in zip(names, counts):
            split_of.update((u, name) for u in members[start:start + count])
            start += count
    rank = {u: i for i, u in enumerate(units)}
    splits = {name: [] for name in names}
    for recording, files in sorted(blocks, key=lambda block: rank[unit(block[0])]):
        splits[split_of[unit(recording)]] += files
    return splits


def avia_lists_dir(
    root: str | os.PathLike, num_samples: int, location: int | None = None, disjoint: str | None = None
) -> Path:
    name = f"{num_samples}_seconds" if num_samples > 1 else f"{num_samples}_second"
    if location is not None:
        name += f"_location_{location}"
    if disjoint:
        name += f"_{disjoint}_disjoint"
    return Path(os.path.abspath(root)) / name / "lists"


def acivw_splits(root: str | os.PathLike, split_mode: int = 0) -> dict[str, list[Path]]:
    names = SPLIT_NAMES[split_mode]
    splits = {name: [] for name in names}
    by_class: dict[int, list[RecordingRecords]] = {}
    for recording in recording_records(root, ACIVW):
        by_class.setdefault(ACIVW_SPEC.number(recording.numbers, "classes"), []).append(recording)
    for videos in by_class.values():
        videos.sort(key=lambda r: (-len(r.files), str(r.relative)))
        if split_mode == 2:
            splits["dataset"] += [f for video in videos for f in video.files]
            continue
        total = sum(len(video.files) for video in videos)
        queue = list(videos)
        train = _fill(queue, ACIVW_TRAIN_FRACTION * total)
        if split_mode == 0:
            rest = total - sum(len(video.files) for video in train)
            filled = [train, _fill(queue, ACIVW_VALID_FRACTION_OF_REST * rest), queue]
        else:
            filled = [train, queue]
        for name, chosen in zip(names, filled):
            chosen.sort(key=lambda r: str(r.relative))
            splits[name] += [f for video in chosen for f in video.files]
    return splits


def _fill(queue: list[RecordingRecords], target: float) -> list[RecordingRecords]:
    """Takes videos from the front of the queue while their seconds stay within target."""
    chosen, seconds = [], 0
    while queue and (not chosen or seconds + len(queue[0].files) <= target):
        seconds += len(queue[0].files)
        chosen.append(queue.pop(0))
    return chosen


def write_lists(
    out_dir: Path, splits: dict[str, list[Path]], relative_to: str | os.PathLike | None = None
) -> dict[Path, int]:
    """Writes `{split}.txt` for each split that has records, as the original did; returns
    the number of lines per file written."""
    written = {}
    for name, files in splits.items():
        if not files:
            continue
        lines = [os.path.relpath(f, relative_to) if relative_to else str(f) for f in files]
        path = out_dir / f"{name}.txt"
        out_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, "".join(line + "\n" for line in lines))
        written[path] = len(lines)
    return written


def list_files(target: str | os.PathLike) -> list[Path]:
    """A list file, or every list file under a directory (text files of .tfrecord paths)."""
    target = Path(target)
    if target.is_file():
        return [target]
    found = []
    for path in sorted(target.rglob("*.txt")):
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        if lines and all(line.strip().endswith(".tfrecord") for line in lines):
            found.append(path)
    return found


def rewrite_prefixes(lines: list[str], pairs: list[tuple[str, str]]) -> tuple[list[str], int, int]:
    """Replaces the first matching OLD prefix of each line by its NEW one (whole path
    components only, longest OLD first); returns the lines, how many were rewritten and how
    many non-empty ones matched no prefix."""
    pairs = sorted(((old.rstrip("/"), new.rstrip("/")) for old, new in pairs), key=lambda p: -len(p[0]))
    out, rewritten, unmatched = [], 0, 0
    for line in lines:
        for old, new in pairs:
            if line == old or line.startswith(old + "/"):
                line = new + line[len(old):]
                rewritten += 1
                break
        else:
            unmatched += bool(line.strip())
        out.append(line)
    return out, rewritten, unmatched
