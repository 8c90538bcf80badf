import glob
import os
import re
from pathlib import Path

import numpy as np
import pytest

import generate_lists
from conversion import lists
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dataloader.windows import read_list


def _fake_avia(root: Path, records: int = 30):
    """A converted AVIA tree of empty record files: lists only read names."""
    for location in range(1, 4):
        for subject in range(1, 10):
            for action in range(1, 15):
                directory = root / AVIA_SPEC.relative_dir((location, subject, action))
                directory.mkdir(parents=True)
                for s in range(records):
                    (directory / f"Data_{s + 1:03d}.tfrecord").touch()


def _original_avia_lists(root_dir: str, location, num_samples: int, split_mode: int) -> dict[str, list[str]]:
    """The original generate_lists.py, ported to Python 3 line by line (range -> list for
    shuffle, filter()[0] -> next(filter())); the reference the port must reproduce."""
    files = []
    locations = None if location is None else [location]
    data_dirs = sorted(glob.glob(f'{root_dir}/*/*/*/'))
    for data_dir in data_dirs:
        splitted_data_dir = data_dir.split('/')
        loc = int(next(filter(re.compile('Location_.*').match, splitted_data_dir)).split('_')[1])
        num_files = len([name for name in os.listdir(data_dir) if name.endswith('.tfrecord')])
        if locations is not None and loc not in locations:
            continue
        for index in range(num_samples * int(num_files / num_samples)):
            files.append(f'{data_dir}/Data_{index + 1:0>3d}.tfrecord')
    data_set_size = len(files)
    train_set_size = int(data_set_size * 0.8 / num_samples)
    validation_set_size = int(data_set_size * 0.1 / num_samples)
    test_set_size = data_set_size - train_set_size - validation_set_size
    if split_mode == 1:
        train_set_size = train_set_size + validation_set_size
        validation_set_size = test_set_size
        test_set_size = 0
    elif split_mode == 2:
        train_set_size = train_set_size + validation_set_size + test_set_size
        validation_set_size = 0
        test_set_size = 0
    indices = list(range(0, data_set_size, num_samples))
    state = np.random.get_state()
    np.random.seed(42)
    np.random.shuffle(indices)
    np.random.set_state(state)
    train_indices = indices[:train_set_size]
    validation_indices = indices[train_set_size:train_set_size + validation_set_size]
    test_indices = indices[train_set_size + validation_set_size:]
    train_files = [files[j] for i in train_indices for j in range(i, i + num_samples)]
    validation_files = [files[j] for i in validation_indices for j in range(i, i + num_samples)]
    test_files = [files[j] for i in test_indices for j in range(i, i + num_samples)]
    return {'dataset' if split_mode == 2 else 'training': train_files, 'validation': validation_files,
            'testing': test_files}


@pytest.fixture(scope="module")
def avia_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("avia_records")
    _fake_avia(root)
    # A short recording: its tail that does not fill a block is left out.
    for s in range(30, 37):
        (root / AVIA_SPEC.relative_dir((2, 4, 6)) / f"Data_{s + 1:03d}.tfrecord").touch()
    return root


@pytest.mark.parametrize("location, num_samples, split_mode", [
    (None, 1, 0), (1, 10, 0), (2, 10, 0), (3, 5, 1), (None, 10, 2), (2, 4, 0),
])
def test_avia_lists_reproduce_the_original_script(avia_tree, tmp_path, location, num_samples, split_mode):
    original = _original_avia_lists(str(avia_tree), location, num_samples, split_mode)
    argv = [str(avia_tree), "--num_samples", str(num_samples), "--split_mode", str(split_mode)]
    if location:
        argv += ["--location", str(location)]
    assert generate_lists.main(argv) == 0
    name = f"{num_samples}_seconds" if num_samples > 1 else "1_second"  # as the original named it
    out_dir = avia_tree / (name + (f"_location_{location}" if location else "")) / "lists"
    for name, expected in original.items():
        path = out_dir / f"{name}.txt"
        if not expected:
            assert not path.exists()
            continue
        written = path.read_text().splitlines()
        assert written == [line.replace("//", "/") for line in expected]  # the original doubled a slash


def test_avia_counts_add_up_and_blocks_are_whole(avia_tree):
    splits = lists.avia_splits(avia_tree, location=2, num_samples=10, split_mode=0)
    every = [f for files in splits.values() for f in files]
    assert len(every) == len(set(every)) == 9 * 14 * 30  # the 7-record tail of one recording is dropped
    assert [len(files) for files in splits.values()] == [3020, 370, 390]  # int(80 %), int(10 %) of 378 blocks
    for files in splits.values():
        for start in range(0, len(files), 10):
            block = files[start:start + 10]
            assert len({f.parent for f in block}) == 1
            numbers = [int(f.stem.split("_")[1]) for f in block]
            assert numbers == list(range(numbers[0], numbers[0] + 10)) and numbers[0] % 10 == 1


def _recordings(files):
    return {f.parent for f in files}


def test_the_original_split_leaks_recordings_and_the_disjoint_ones_do_not(avia_tree):
    original = lists.avia_splits(avia_tree, num_samples=10)
    assert _recordings(original["training"]) & _recordings(original["testing"])  # the known leak

    by_recording = lists.avia_splits(avia_tree, num_samples=10, disjoint="recording")
    sets = [_recordings(files) for files in by_recording.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    # Action by action: of each action's 27 recordings, 22 (80 %), 3 (10 %) and the rest.
    assert [len(s) for s in sets] == [14 * 22, 14 * 3, 14 * 2]
    for recordings, per_action in zip(sets, (22, 3, 2)):
        actions = [path.name for path in recordings]
        assert sorted(set(actions)) == sorted({f"Action_{a:03d}" for a in range(1, 15)})
        assert all(actions.count(action) == per_action for action in actions)
    assert sum(len(files) for files in by_recording.values()) == 378 * 30

    by_subject = lists.avia_splits(avia_tree, num_samples=10, disjoint="subject")
    subjects = [{f.parent.parent.name for f in files} for files in by_subject.values()]
    assert [len(s) for s in subjects] == [7, 1, 1]
    assert not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])
    two_way = lists.avia_splits(avia_tree, location=3, split_mode=1, disjoint="subject")
    assert [len({f.parent.parent.name for f in files}) for files in two_way.values()] == [8, 1]


def test_a_recording_disjoint_split_needs_three_recordings_of_every_action(tmp_path):
    for subject in (1, 2):
        for action in (1, 2):
            directory = tmp_path / AVIA_SPEC.relative_dir((1, subject, action))
            directory.mkdir(parents=True)
            (directory / "Data_001.tfrecord").touch()
    with pytest.raises(ValueError, match=r"action 1: 2 units cannot make 3 disjoint splits"):
        lists.avia_splits(tmp_path, disjoint="recording")
    two_way = lists.avia_splits(tmp_path, split_mode=1, disjoint="recording")
    assert [len(_recordings(files)) for files in two_way.values()] == [2, 2]


def test_same_seed_same_lists_other_seed_other_lists(avia_tree):
    for disjoint in (None, "recording"):
        first = lists.avia_splits(avia_tree, num_samples=5, disjoint=disjoint)
        assert lists.avia_splits(avia_tree, num_samples=5, disjoint=disjoint) == first
        other = lists.avia_splits(avia_tree, num_samples=5, disjoint=disjoint, seed=7)
        assert other != first
        assert sorted(sum(other.values(), [])) == sorted(sum(first.values(), []))


def test_disjoint_lists_go_to_their_own_directory(avia_tree):
    assert generate_lists.main([str(avia_tree), "--num_samples", "10", "--location", "1", "--disjoint",
                                "subject"]) == 0
    out_dir = avia_tree / "10_seconds_location_1_subject_disjoint" / "lists"
    assert sorted(p.name for p in out_dir.iterdir()) == ["testing.txt", "training.txt", "validation.txt"]


def _fake_acivw(root: Path, seconds: dict[tuple[int, int], int]) -> None:
    for (class_index, video), count in seconds.items():
        directory = root / ACIVW_SPEC.relative_dir((class_index, video))
        directory.mkdir(parents=True)
        for s in range(count):
            (directory / f"Data_{s + 1:03d}.tfrecord").touch()


def test_acivw_greedy_split_by_duration_is_video_disjoint(tmp_path):
    lengths = [40, 30, 20, 10, 10, 5]  # 115 s: training <= 86.25 s, validation <= half of the rest
    _fake_acivw(tmp_path, {(0, v + 1): n for v, n in enumerate(lengths)})
    _fake_acivw(tmp_path, {(7, 1): 3})  # a class of one video: it trains
    assert generate_lists.main([str(tmp_path)]) == 0
    written = {name: (tmp_path / "lists" / f"{name}.txt").read_text().splitlines()
               for name in ("training", "validation", "testing")}
    videos = {name: sorted({str(Path(line).parent.relative_to(tmp_path)) for line in lines})
              for name, lines in written.items()}
    assert videos == {
        "training": ["class_0/data_001", "class_0/data_002", "class_7/data_001"],
        "validation": ["class_0/data_003"],
        "testing": ["class_0/data_004", "class_0/data_005", "class_0/data_006"],
    }
    assert [len(lines) for lines in written.values()] == [73, 20, 25]
    assert all(os.path.isabs(line) for lines in written.values() for line in lines)
    assert written["validation"][:2] == [f"{tmp_path}/class_0/data_003/Data_001.tfrecord",
                                         f"{tmp_path}/class_0/data_003/Data_002.tfrecord"]


def test_relative_lists_resolve_against_the_stated_root(tmp_path):
    _fake_acivw(tmp_path / "records", {(1, 1): 4, (1, 2): 2})
    assert generate_lists.main([str(tmp_path / "records"), "--split_mode", "2", "--relative"]) == 0
    path = tmp_path / "records" / "lists" / "dataset.txt"
    assert path.read_text().splitlines()[0] == "class_1/data_001/Data_001.tfrecord"
    with pytest.raises(ValueError, match="relative paths"):
        read_list(path)
    resolved = read_list(path, tmp_path / "records")
    assert len(resolved) == 6 and all(os.path.exists(p) for p in resolved)


def test_a_gap_in_the_records_is_an_error(tmp_path, capsys):
    _fake_acivw(tmp_path, {(1, 1): 4})
    directory = tmp_path / "class_1" / "data_001"
    (directory / "Data_002.tfrecord").rename(directory / "Data_009.tfrecord")
    with pytest.raises(SystemExit):
        generate_lists.main([str(tmp_path)])
    assert "class_1/data_001/Data_002.tfrecord: missing record" in capsys.readouterr().err


def test_prefix_rewrite_fixes_mixed_prefixes(tmp_path, capsys):
    lists_dir = tmp_path / "shipped" / "lists"
    lists_dir.mkdir(parents=True)
    (lists_dir / "training.txt").write_text(
        "/Dataset/acivw/class_0/data_001/Data_001.tfrecord\n"
        "/dataset/acivw/class_0/data_002/Data_001.tfrecord\n"
        "/Datasets/acivw/class_0/data_003/Data_001.tfrecord\n"
    )
    (lists_dir / "notes.txt").write_text("not a list\n")
    argv = [str(tmp_path / "shipped"), "--rewrite_prefix", "/Dataset/acivw", str(tmp_path / "data"),
            "--rewrite_prefix", "/dataset/acivw/", str(tmp_path / "data")]
    assert generate_lists.main(argv) == 0
    assert (lists_dir / "training.txt").read_text().splitlines() == [
        f"{tmp_path}/data/class_0/data_001/Data_001.tfrecord",
        f"{tmp_path}/data/class_0/data_002/Data_001.tfrecord",
        "/Datasets/acivw/class_0/data_003/Data_001.tfrecord",  # another directory: not a match
    ]
    assert (lists_dir / "notes.txt").read_text() == "not a list\n"
    output = capsys.readouterr()
    assert "training.txt: 2 paths rewritten, 1 matching no prefix" in output.out
    assert "3 paths do not exist" in output.err


def _shipped_acivw_lists(directory: Path) -> None:
    """Lists shaped as (A)'s shipped ones: training and validation name their records
    /Dataset/class_*/..., testing /dataset/class_*/... ."""
    directory.mkdir(parents=True)
    for name, prefix, video in (("training", "/Dataset", 46), ("validation", "/Dataset", 15),
                                ("testing", "/dataset", 6)):
        lines = [f"{prefix}/class_{c}/data_{video:03d}/Data_{s:03d}.tfrecord" for c in range(10) for s in (1, 2)]
        (directory / f"{name}.txt").write_text("".join(line + "\n" for line in lines))


def test_the_docstring_example_rewrites_lists_shaped_as_the_shipped_ones(tmp_path):
    _shipped_acivw_lists(tmp_path / "lists")
    pairs = re.findall(r"--rewrite_prefix (\S+) (\S+)", generate_lists.__doc__)
    assert pairs == [("/Dataset", "/data/acivw_tfrecords"), ("/dataset", "/data/acivw_tfrecords")]
    argv = [str(tmp_path / "lists")] + [arg for old, new in pairs for arg in ("--rewrite_prefix", old, new)]
    assert generate_lists.main(argv) == 0
    for name in ("training", "validation", "testing"):
        lines = (tmp_path / "lists" / f"{name}.txt").read_text().splitlines()
        assert len(lines) == 20 and all(line.startswith("/data/acivw_tfrecords/class_") for line in lines)


def test_a_list_that_no_prefix_matches_stops_the_rewrite_unless_allowed(tmp_path, capsys):
    _shipped_acivw_lists(tmp_path / "lists")
    before = {p.name: p.read_text() for p in (tmp_path / "lists").iterdir()}
    argv = [str(tmp_path / "lists"), "--rewrite_prefix", "/Dataset", str(tmp_path / "data")]
    with pytest.raises(SystemExit) as stop:
        generate_lists.main(argv)  # testing.txt says /dataset
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert err == (f"generate_lists.py: error: {tmp_path}/lists/testing.txt: no path starts with /Dataset; "
                   "no list was rewritten (--allow_unmatched leaves such lists as they are)\n")
    assert {p.name: p.read_text() for p in (tmp_path / "lists").iterdir()} == before

    with pytest.raises(SystemExit):
        generate_lists.main([str(tmp_path / "lists"), "--rewrite_prefix", "/Datasets", "/data"])
    assert "no path starts with /Datasets (and 2 more lists);" in capsys.readouterr().err

    assert generate_lists.main(argv + ["--allow_unmatched"]) == 0
    assert "testing.txt: 0 paths rewritten, 20 matching no prefix" in capsys.readouterr().out
    assert (tmp_path / "lists" / "testing.txt").read_text() == before["testing.txt"]
    assert (tmp_path / "lists" / "training.txt").read_text().startswith(f"{tmp_path}/data/class_0/data_046/")
