"""Every network of both papers, one `ModelSpec` each: what it is called (here and in the
papers), which loader inputs it takes, how the loader's samples size it, and which local
weights file starts it.

Every builder takes `mode` ("embedding" or "classifier", default "classifier") and
`num_classes` (default: 10 for (A)'s networks, 14 for (B)'s), plus the size keywords its
spec's `sizes` gives. Inputs are float32, named as the loader's keys. `SPECS` is the table
of shapes: each network's inputs without the batch axis at the papers' sizes, and in the
comment after it its embedding's. T is the number of frames: 12 per second of sample for
acoustic images, as many as the loader picks for video. Classifier outputs are (classes,):
the logits of per-frame networks are the mean of their per-frame logits. Each builder's
docstring gives the details.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import keras

from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, FRAME_SAMPLES
from dataloader.config import ACOUSTIC_IMAGE, AUDIO, SPECTROGRAM, VIDEO_FRAMES, WAVEFORM, LoaderConfig
from dataloader.datasets import ACIVW, AVIA, FLAVOURS
from models.avmodel import avmodel
from models.caption_alignment import CLIP_FRAMES, caption_acoustic_image, caption_crnn
from models.content_identity import SAMPLE_FRAMES, content_identity_audio, content_identity_video
from models.content_identity import VIDEO_SIZE as CONTENT_IDENTITY_VIDEO
from models.dualcamnet import dualcamnet, dualcamnet_v2, dualcamnet_v2_teacher
from models.hearnet import hearnet_a, hearnet_b
from models.resnet import resnet18_v1, resnet50, temporal_resnet50
from models.soundnet import soundnet5
from models.sync import (
    CROP_VIDEO_SIZE,
    VIDEO_SIZE,
    WINDOW_FRAMES,
    WINDOW_SAMPLES,
    sync_acoustic_image,
    sync_audio,
    sync_crop,
    sync_video,
)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str  # the registry's name
    builder: Callable[..., keras.Model]
    default_shapes: Mapping[str, tuple[int, ...]]  # loader input -> shape at the papers' sizes, in input order
    sizes: Callable[[LoaderConfig], dict]  # loader -> the builder's size keywords for its samples
    paper_names: Mapping[str, tuple[str, ...]]  # a paper's name -> the dataset flavours on which it means this one
    weights_flag: str | None = None  # the run flag naming its local pretrained weights file, given as weights=
    video: tuple[int, tuple[int, int]] | None = None  # (video_short_side, video_size) it needs; None: the dataset's

    @property
    def inputs(self) -> tuple[str, ...]:
        """The loader inputs it takes, in the order it takes them."""
        return tuple(self.default_shapes)


def _acoustic_frames(loader: LoaderConfig) -> dict:
    return {"num_frames": loader.frames_per_sample}


def _spectrogram_frames(loader: LoaderConfig) -> dict:
    return {"num_frames": loader.spectrogram_frames}


def _waveform_samples(loader: LoaderConfig) -> dict:
    return {"num_samples": loader.waveform_length}


def _video_frames(loader: LoaderConfig) -> dict:
    return {"num_frames": loader.num_video_frames, "frame_shape": (*loader.video_size, 3)}


def _video_and_acoustic_frames(loader: LoaderConfig) -> dict:
    return {"video_frames": loader.num_video_frames, "acoustic_frames": loader.frames_per_sample,
            "frame_shape": (*loader.video_size, 3)}


def _audio_samples(loader: LoaderConfig) -> dict:
    return {"num_samples": loader.audio_length}


def _frame_shape(loader: LoaderConfig) -> dict:
    return {"frame_shape": (*loader.video_size, 3)}


def _window(loader: LoaderConfig) -> dict:
    return {}


RESNET50_WEIGHTS = "resnet50_weights"
_SYNC_ACOUSTIC = (WINDOW_FRAMES, *ACOUSTIC_IMAGE_SHAPE)

SPECS = (
    ModelSpec("dualcamnet", dualcamnet, {ACOUSTIC_IMAGE: (24, 36, 48, 12)}, _acoustic_frames,
              {"DualCamHybridNet": (ACIVW,), "DualCamNet": (ACIVW,)}),  # (T, 12, 16, 128), conv3's map
    ModelSpec("dualcamnet_v2", dualcamnet_v2, {ACOUSTIC_IMAGE: (12, 36, 48, 12)}, _acoustic_frames,
              {"DualCamNet": (AVIA,)}),  # (T, 1024), full1
    ModelSpec("dualcamnet_v2_teacher", dualcamnet_v2_teacher, {ACOUSTIC_IMAGE: (12, 36, 48, 12)}, _acoustic_frames,
              {"DualCamHybridNet": (AVIA,)}),  # (T, 1024), full1
    ModelSpec("hearnet_a", hearnet_a, {SPECTROGRAM: (200, 1, 257)}, _spectrogram_frames,
              {"HearNet": (ACIVW,)}),  # (128,)
    ModelSpec("hearnet_b", hearnet_b, {SPECTROGRAM: (500, 1, 257)}, _spectrogram_frames,
              {"HearNet": (AVIA,)}),  # (128,)
    ModelSpec("soundnet5", soundnet5, {WAVEFORM: (110_250, 1)}, _waveform_samples,
              {"SoundNet5": FLAVOURS}, weights_flag="soundnet_weights"),  # (1024,)
    ModelSpec("resnet18_v1", resnet18_v1, {VIDEO_FRAMES: (2, 224, 298, 3)}, _video_frames,
              {"ResNet18_v1": FLAVOURS}, video=(224, (224, 298))),  # (T, 12, 16, 128), conv_map
    ModelSpec("resnet50", resnet50, {VIDEO_FRAMES: (5, 224, 224, 3)}, _video_frames,
              {"ResNet50": FLAVOURS}, weights_flag=RESNET50_WEIGHTS),  # (T, 2048)
    ModelSpec("temporal_resnet50", temporal_resnet50, {VIDEO_FRAMES: (5, 224, 224, 3)}, _video_frames,
              {"TemporalResNet50": FLAVOURS}, weights_flag=RESNET50_WEIGHTS),  # (T, 2048)
    ModelSpec("avmodel", avmodel, {VIDEO_FRAMES: (5, 224, 224, 3), ACOUSTIC_IMAGE: (60, 36, 48, 12)},
              _video_and_acoustic_frames, {"AVModel": FLAVOURS}, weights_flag=RESNET50_WEIGHTS),  # (T_video, 3072)
    # UltraSync's streams, on windows of 5 frames the sync stage cuts from its samples.
    ModelSpec("sync_video", sync_video, {VIDEO_FRAMES: (WINDOW_FRAMES, *VIDEO_SIZE, 3)}, _frame_shape, {},
              video=(VIDEO_SIZE[0], VIDEO_SIZE)),  # (64,)
    ModelSpec("sync_crop", sync_crop, {VIDEO_FRAMES: (WINDOW_FRAMES, *CROP_VIDEO_SIZE, 3),
                                       ACOUSTIC_IMAGE: _SYNC_ACOUSTIC}, _frame_shape, {},
              video=(CROP_VIDEO_SIZE[0], CROP_VIDEO_SIZE)),  # (64,)
    ModelSpec("sync_acoustic_image", sync_acoustic_image, {ACOUSTIC_IMAGE: _SYNC_ACOUSTIC}, _window, {}),  # (64,)
    ModelSpec("sync_audio", sync_audio, {AUDIO: (WINDOW_SAMPLES, 1)}, _window, {}),  # (64,)
    # The SyncNet trainer's trunks, on 2-s crops the content_identity stage cuts: per step [content, identity].
    ModelSpec("content_identity_video", content_identity_video,
              {VIDEO_FRAMES: (SAMPLE_FRAMES, *CONTENT_IDENTITY_VIDEO, 3)}, _frame_shape, {},
              video=(CONTENT_IDENTITY_VIDEO[0], CONTENT_IDENTITY_VIDEO)),  # (12, 2, 128)
    ModelSpec("content_identity_audio", content_identity_audio, {AUDIO: (SAMPLE_FRAMES * FRAME_SAMPLES, 1)}, _window,
              {}),  # (12, 2, 128)
    # (C)'s CRNN and an acoustic-image encoder, per frame against the caption_alignment stage's words.
    ModelSpec("caption_crnn", caption_crnn, {AUDIO: (CLIP_FRAMES * FRAME_SAMPLES, 1)}, _audio_samples,
              {}),  # (192, 300)
    ModelSpec("caption_acoustic_image", caption_acoustic_image, {ACOUSTIC_IMAGE: (CLIP_FRAMES, *ACOUSTIC_IMAGE_SHAPE)},
              _acoustic_frames, {}),  # {"frames": (48, 300), "attention": (48, 12, 16), "features": (48, 12, 16, 128)}
)
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in SPECS}
# (a paper's name, flavour) -> registry name
PAPER_NAMES: dict[tuple[str, str], str] = {
    (paper_name, flavour): spec.name
    for spec in SPECS for paper_name, flavours in spec.paper_names.items() for flavour in flavours
}


def _unknown(name: str, known) -> ValueError:
    return ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(known))}")


def build_model(name: str, **kwargs) -> keras.Model:
    """The model `name` (a registry name), built by its builder with `kwargs`."""
    if name not in MODELS:
        raise _unknown(name, MODELS)
    return MODELS[name].builder(**kwargs)


def resolve(name: str, flavour: str) -> str:
    """The registry name of a network named in the registry or as in the papers; a paper's
    name can mean another network on each dataset flavour (A's HearNet is hearnet_a)."""
    if name in MODELS:
        return name
    if (name, flavour) not in PAPER_NAMES:
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown dataset flavour {flavour!r}; flavours: {', '.join(FLAVOURS)}")
        raise _unknown(name, {*MODELS, *(paper_name for paper_name, _ in PAPER_NAMES)})
    return PAPER_NAMES[name, flavour]


def build_for_loader(name: str, loader: LoaderConfig, *, mode: str, num_classes: int,
                     weights: str | None = None) -> keras.Model:
    """The network `name` (registry or paper's name, on the loader's flavour) sized for the
    loader's samples. `weights`: its local pretrained weights file, for a network with a
    `weights_flag` (None starts from scratch)."""
    spec = MODELS[resolve(name, loader.flavour)]
    kwargs = {"mode": mode, "num_classes": num_classes, **spec.sizes(loader)}
    if spec.weights_flag:
        kwargs["weights"] = weights
    elif weights is not None:
        raise ValueError(f"{spec.name} takes no pretrained weights file, got {weights!r}")
    return spec.builder(**kwargs)
