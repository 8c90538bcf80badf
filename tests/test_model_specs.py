import dataclasses

import numpy as np
import pytest

from dataloader import presets
from dataloader.config import ACOUSTIC_IMAGE, AUDIO, SPECTROGRAM, VIDEO_FRAMES, WAVEFORM, LoaderConfig
from dataloader.datasets import ACIVW, AVIA
from models.layers import EMBEDDING
from models.registry import MODELS, build_for_loader, resolve

BIG = {"resnet50", "temporal_resnet50", "avmodel"}
# The papers' names, per dataset flavour (A's networks on ACIVW, B's on AVIA).
PAPER_NAMES = {
    "DualCamHybridNet": {ACIVW: "dualcamnet", AVIA: "dualcamnet_v2_teacher"},
    "DualCamNet": {ACIVW: "dualcamnet", AVIA: "dualcamnet_v2"},
    "HearNet": {ACIVW: "hearnet_a", AVIA: "hearnet_b"},
    "SoundNet5": {ACIVW: "soundnet5", AVIA: "soundnet5"},
    "ResNet18_v1": {ACIVW: "resnet18_v1", AVIA: "resnet18_v1"},
    "ResNet50": {ACIVW: "resnet50", AVIA: "resnet50"},
    "TemporalResNet50": {ACIVW: "temporal_resnet50", AVIA: "temporal_resnet50"},
    "AVModel": {ACIVW: "avmodel", AVIA: "avmodel"},
}
INPUTS = {
    "dualcamnet": (ACOUSTIC_IMAGE,), "dualcamnet_v2": (ACOUSTIC_IMAGE,), "dualcamnet_v2_teacher": (ACOUSTIC_IMAGE,),
    "hearnet_a": (SPECTROGRAM,), "hearnet_b": (SPECTROGRAM,), "soundnet5": (WAVEFORM,),
    "resnet18_v1": (VIDEO_FRAMES,), "resnet50": (VIDEO_FRAMES,), "temporal_resnet50": (VIDEO_FRAMES,),
    "avmodel": (VIDEO_FRAMES, ACOUSTIC_IMAGE),
    "sync_video": (VIDEO_FRAMES,), "sync_crop": (VIDEO_FRAMES, ACOUSTIC_IMAGE),
    "sync_acoustic_image": (ACOUSTIC_IMAGE,), "sync_audio": (AUDIO,),
    "content_identity_video": (VIDEO_FRAMES,), "content_identity_audio": (AUDIO,),
    "caption_crnn": (AUDIO,), "caption_acoustic_image": (ACOUSTIC_IMAGE,),
}
WEIGHTS_FLAGS = {"soundnet5": "soundnet_weights", "resnet50": "resnet50_weights",
                 "temporal_resnet50": "resnet50_weights", "avmodel": "resnet50_weights"}

# 3 s at AVIA's spectrogram step, 6 video frames cropped to 112 x 160.
LOADER = LoaderConfig(AVIA, (ACOUSTIC_IMAGE, VIDEO_FRAMES, WAVEFORM, SPECTROGRAM), sample_length=3, nr_frames=6,
                      video_size=(112, 160), frame_step=220)
ACOUSTIC_36 = {"num_frames": 36}  # 12 a second
SPECTROGRAM_299 = {"num_frames": 299}  # 1 + (3 * 22,050 - 440) // 220
VIDEO_6 = {"num_frames": 6, "frame_shape": (112, 160, 3)}
SIZES = {
    "dualcamnet": ACOUSTIC_36, "dualcamnet_v2": ACOUSTIC_36, "dualcamnet_v2_teacher": ACOUSTIC_36,
    "hearnet_a": SPECTROGRAM_299, "hearnet_b": SPECTROGRAM_299, "soundnet5": {"num_samples": 66_150},
    "resnet18_v1": VIDEO_6, "resnet50": VIDEO_6, "temporal_resnet50": VIDEO_6,
    "avmodel": {"video_frames": 6, "acoustic_frames": 36, "frame_shape": (112, 160, 3)},
    # The sync streams take 5-frame windows, whatever the sample's length.
    "sync_video": {"frame_shape": (112, 160, 3)}, "sync_crop": {"frame_shape": (112, 160, 3)},
    "sync_acoustic_image": {}, "sync_audio": {},
    # So do the content and identity trunks, 2-s crops the stage cuts.
    "content_identity_video": {"frame_shape": (112, 160, 3)}, "content_identity_audio": {},
    # The caption encoders take the whole sample.
    "caption_crnn": {"num_samples": 3 * 12_288}, "caption_acoustic_image": ACOUSTIC_36,
}
# The sync stage's samples: every frame of 3 s, at the video size each visual stream takes.
SYNC = LoaderConfig(AVIA, (VIDEO_FRAMES, ACOUSTIC_IMAGE, AUDIO), sample_length=3, nr_frames=36, video_short_side=72,
                    video_size=(72, 96))
# The caption_alignment recipe's clips: 4 s.
CAPTIONS = LoaderConfig(ACIVW, (AUDIO, ACOUSTIC_IMAGE), **presets.C_CAPTIONS.settings())
# The loader of the stage each network was trained in, in its paper.
PAPER_LOADERS = {
    "dualcamnet": presets.SELF_SUPERVISED_A, "resnet18_v1": presets.SELF_SUPERVISED_A,
    "hearnet_a": presets.HEARNET_A, "hearnet_b": presets.HEARNET_B, "soundnet5": presets.SOUNDNET_B,
    "dualcamnet_v2": presets.TEACHER_B, "dualcamnet_v2_teacher": presets.TEACHER_B,
    "resnet50": presets.RESNET50_B, "temporal_resnet50": presets.RESNET50_B,
    "avmodel": presets.PRESETS["distill_resnet50_b"],
    "sync_video": SYNC, "sync_crop": dataclasses.replace(SYNC, video_short_side=144, video_size=(144, 192)),
    "sync_acoustic_image": SYNC, "sync_audio": SYNC,
    "content_identity_video": SYNC, "content_identity_audio": SYNC,  # every frame of 3 s, 72 x 96
    "caption_crnn": CAPTIONS, "caption_acoustic_image": CAPTIONS,
}


def test_the_tables_cover_every_network():
    assert set(MODELS) == set(INPUTS) == set(SIZES) == set(PAPER_LOADERS)
    assert all(spec.name == name for name, spec in MODELS.items())


@pytest.mark.parametrize("flavour", [ACIVW, AVIA])
@pytest.mark.parametrize("paper_name", PAPER_NAMES)
def test_the_papers_names_resolve_per_flavour(paper_name, flavour):
    assert resolve(paper_name, flavour) == PAPER_NAMES[paper_name][flavour]


@pytest.mark.parametrize("flavour", [ACIVW, AVIA])
def test_registry_names_resolve_to_themselves(flavour):
    assert [resolve(name, flavour) for name in MODELS] == list(MODELS)


def test_an_unknown_name_lists_the_registry_and_the_papers_names():
    with pytest.raises(ValueError) as error:
        resolve("ResNet18", ACIVW)
    known = sorted({*MODELS, *PAPER_NAMES})
    assert str(error.value) == f"unknown model 'ResNet18'; known models: {', '.join(known)}"
    with pytest.raises(ValueError, match="unknown dataset flavour 'vggsound'"):
        resolve("HearNet", "vggsound")


def test_inputs_weights_flags_and_video_crops():
    assert {name: spec.inputs for name, spec in MODELS.items()} == INPUTS
    assert {name: spec.weights_flag for name, spec in MODELS.items()} == {name: WEIGHTS_FLAGS.get(name)
                                                                          for name in MODELS}
    assert {name: spec.video for name, spec in MODELS.items() if spec.video} == {
        "resnet18_v1": (224, (224, 298)), "sync_video": (72, (72, 96)), "sync_crop": (144, (144, 192)),
        "content_identity_video": (72, (72, 96))}


@pytest.mark.parametrize("name", MODELS)
def test_sizes_from_a_loader(name):
    assert MODELS[name].sizes(LOADER) == SIZES[name]


@pytest.mark.parametrize("name", MODELS)
def test_build_for_loader_passes_sizes_and_a_weights_file_only_to_networks_that_take_one(name, monkeypatch):
    calls = []
    monkeypatch.setitem(MODELS, name, dataclasses.replace(MODELS[name], builder=lambda **kwargs: calls.append(kwargs)))
    build_for_loader(name, LOADER, mode=EMBEDDING, num_classes=5)
    expected = {"mode": EMBEDDING, "num_classes": 5, **SIZES[name]}
    if name in WEIGHTS_FLAGS:  # even when None, as the trainer always passed its flag
        assert calls.pop() == {**expected, "weights": None}
        build_for_loader(name, LOADER, mode=EMBEDDING, num_classes=5, weights="pretrained.h5")
        assert calls.pop() == {**expected, "weights": "pretrained.h5"}
    else:
        assert calls.pop() == expected
        with pytest.raises(ValueError, match="takes no pretrained weights"):
            build_for_loader(name, LOADER, mode=EMBEDDING, num_classes=5, weights="pretrained.h5")


def test_build_for_loader_resolves_the_papers_names_on_the_loaders_flavour():
    net = build_for_loader("HearNet", presets.HEARNET_B, mode=EMBEDDING, num_classes=14)
    assert net.name == "hearnet_b"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in MODELS])
def test_the_papers_loaders_build_the_default_shapes_which_run(name):
    loader = PAPER_LOADERS[name]
    assert set(MODELS[name].inputs) <= set(loader.inputs)
    net = build_for_loader(name, loader, mode=EMBEDDING, num_classes=3)
    shapes = MODELS[name].default_shapes
    assert [(i.name, tuple(i.shape[1:])) for i in net.inputs] == list(shapes.items())
    inputs = [np.ones((1, *shape), "float32") for shape in shapes.values()]
    outputs = net(inputs if len(inputs) > 1 else inputs[0], training=False)
    for output in outputs.values() if isinstance(outputs, dict) else [outputs]:
        assert output.shape[0] == 1 and np.all(np.isfinite(output))
