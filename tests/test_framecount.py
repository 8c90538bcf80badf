from pathlib import Path

import pytest

import framecount
from conversion.framecount import count_seconds
from dataloader import raw
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC


def _fake_acivw(root: Path, frames: dict[tuple[int, int], int]) -> None:
    """Only what framecount reads: the names of the video frames."""
    for (class_index, video), count in frames.items():
        video_dir = root / ACIVW_SPEC.relative_dir((class_index, video)) / "video"
        video_dir.mkdir(parents=True)
        for i in range(1, count + 1):
            (video_dir / raw.bmp_name(i)).touch()


def test_raw_count_writes_video_and_class_seconds_and_summaries(tmp_path, capsys):
    _fake_acivw(tmp_path, {(0, 1): 30, (0, 2): 12, (3, 1): 71, (3, 7): 5})
    (tmp_path / "class_3" / "data_7.partial").mkdir()  # a simulator's unfinished recording: not counted
    assert framecount.main([str(tmp_path), "0"]) == 0

    def read(*parts):
        return (tmp_path.joinpath(*parts)).read_text()

    assert read("class_0/data_001/video_time.txt") == "video seconds: 2"
    assert read("class_0/data_002/video_time.txt") == "video seconds: 1"
    assert read("class_3/data_001/video_time.txt") == "video seconds: 5"
    assert read("class_3/data_007/video_time.txt") == "video seconds: 0"
    assert read("class_0/class_time.txt") == "class seconds: 3"
    assert read("class_3/class_time.txt") == "class seconds: 5"
    assert "Number of total datadir : 4" in read("datadir.txt")
    assert "Number of maximum seconds : 5 in class class_3" in read("timedataset.txt")
    assert "Number of minimum seconds : 3 in class class_0" in read("timedataset.txt")
    videos = read("videodataset.txt")
    assert videos.startswith("Total 8 Number of average seconds : 2.00")
    assert "Number of maximum seconds : 5 in video class_3/data_001" in videos
    output = capsys.readouterr()
    assert "Total 8" in output.out
    assert "1 recordings are under a second and give no record: class_3/data_007" in output.err
    assert [p.name for p in tmp_path.rglob("*.partial*")] == ["data_7.partial"]  # untouched, no temporaries


def test_record_count_counts_one_second_per_record(tmp_path):
    directory = tmp_path / "class_2" / "data_010"
    directory.mkdir(parents=True)
    for s in range(7):
        (directory / f"Data_{s + 1:03d}.tfrecord").touch()
    lengths = count_seconds(tmp_path, from_records=True)
    assert [(str(v.relative), v.seconds) for v in lengths] == [("class_2/data_010", 7)]
    assert (directory / "video_time.txt").read_text() == "video seconds: 7"


def test_avia_count_warns_of_recordings_that_will_wrap(tmp_path, capsys):
    for action, count in ((0, 360), (5, 240)):
        video_dir = tmp_path / AVIA_SPEC.relative_dir((1, 2, action)) / "video"
        video_dir.mkdir(parents=True)
        for i in range(1, count + 1):
            (video_dir / raw.jpeg_name(i)).touch()
    assert framecount.main([str(tmp_path), "0"]) == 0
    assert (tmp_path / "Location_01/Subject_02/Action_005/video_time.txt").read_text() == "video seconds: 20"
    assert "1 recordings are shorter than 30 s: their records wrap around" in capsys.readouterr().err


def test_a_tree_without_recordings_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        framecount.main([str(tmp_path), "0"])
    assert stop.value.code == 1
    assert f"{tmp_path}: no recording directories" in capsys.readouterr().err
