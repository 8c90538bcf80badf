import numpy as np
import tensorflow as tf

from logger import images
from logger.callbacks import ImageLogger, write_hparams, write_projector
from trainer import losses
from trainer.stages import acoustic_energy


def test_upsample_gives_each_image_block_its_cell():
    heat = np.arange(36 * 48, dtype=np.float32).reshape(36, 48)
    big = images.upsample(heat, 480, 640)
    assert big.shape == (480, 640)
    # image block (r, c) is 13.33 x 13.33 pixels and shows cell (r, c)
    assert big[0, 0] == heat[0, 0] and big[479, 639] == heat[35, 47]
    assert big[int(13.34 * 10) + 1, int(13.34 * 20) + 1] == heat[10, 20]


def test_overlay_marks_the_hot_cell_red():
    frame = np.zeros((48, 64, 3), np.uint8)  # black
    heat = np.zeros((12, 16))
    heat[3, 5] = 1.0
    picture = images.overlay(frame, heat)
    assert picture.dtype == np.uint8 and picture.shape == (48, 64, 3)
    hot, cold = picture[3 * 4 + 1, 5 * 4 + 1], picture[0, 0]
    assert hot[0] > 100 and hot[2] == 0 and cold[0] == 0 and cold[2] > 100


def test_attention_map_by_hand():
    audio = np.ones((1, 2, 2, 3))
    video = np.zeros((1, 2, 2, 3))
    video[0, 1, 0] = [1.0, 2.0, 0.0]
    np.testing.assert_array_equal(losses.attention_map(audio, video).numpy()[0], [[0, 0], [5, 0]])


def _event_tags(log_dir):
    tags = set()
    for path in log_dir.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_image_logger_writes_acoustic_energy_and_attention(tmp_path):
    class FakeStage:
        def pictures(self, batch):
            return {"acoustic_energy": acoustic_energy(batch["acoustic_image"]), "attention": np.ones((2, 12, 16))}

    batch = {"video": np.zeros((2, 1, 48, 64, 3), np.float32),
             "acoustic_image": np.random.default_rng(0).normal(size=(2, 3, 36, 48, 12)).astype(np.float32)}
    logger = ImageLogger(str(tmp_path), batch, np.zeros((2, 48, 64, 3), np.uint8))
    logger.set_model(FakeStage())
    logger.on_epoch_end(0)
    assert {"acoustic_energy", "attention"} <= _event_tags(tmp_path)


def test_projector_and_hparams_files(tmp_path):
    write_projector(str(tmp_path), np.eye(3), ["a", "b", "c"])
    assert (tmp_path / "metadata.tsv").read_text() == "a\nb\nc\n"
    assert "metadata.tsv" in (tmp_path / "projector_config.pbtxt").read_text()
    write_hparams(str(tmp_path / "hp"), {"lr": 1e-3, "model": "dualcamnet", "crops": [1, 2]}, {"knn": 0.5})
    assert "knn" in _event_tags(tmp_path / "hp")
