"""Every network of both papers by name: `build_model(name, mode=..., num_classes=..., ...)`.

Every builder takes `mode` ("embedding" or "classifier", default "classifier") and
`num_classes` (default: 10 for (A)'s networks, 14 for (B)'s), plus the input-size keyword
shown below. Inputs are float32; shapes without the batch axis, at the papers' sizes:

| name                  | inputs (builder defaults)                          | embedding            | classifier |
|-----------------------|----------------------------------------------------|----------------------|------------|
| dualcamnet            | acoustic_images (24, 36, 48, 12)  num_frames       | (T, 12, 16, 128) map | (classes,) |
| dualcamnet_v2         | acoustic_images (12, 36, 48, 12)  num_frames       | (T, 1024) full1      | (classes,) |
| dualcamnet_v2_teacher | acoustic_images (12, 36, 48, 12)  num_frames       | (T, 1024) full1      | (classes,) |
| hearnet_a             | spectrogram (200, 1, 257)  num_frames              | (128,)               | (classes,) |
| hearnet_b             | spectrogram (500, 1, 257)  num_frames              | (128,)               | (classes,) |
| soundnet5             | waveform (110250, 1)  num_samples; weights=t7      | (1024,)              | (classes,) |
| resnet18_v1           | video (2, 224, 298, 3)  num_frames, frame_shape    | (T, 12, 16, 128) map | (classes,) |
| resnet50              | video (5, 224, 224, 3)  num_frames, frame_shape;   | (T, 2048)            | (classes,) |
|                       |   weights=Keras ImageNet .h5, train_backbone       |                      |            |
| temporal_resnet50     | as resnet50                                        | (T, 2048)            | (classes,) |
| avmodel               | video (5, 224, 224, 3) video_frames + acoustic_    | (T_video, 3072)      | (classes,) |
|                       |   images (60, 36, 48, 12) acoustic_frames; weights |                      |            |

T is the number of frames: 12 per second of sample for acoustic images, as many as the
loader picks for video. Classifier logits of per-frame networks are the mean of the
per-frame logits. `DEFAULT_INPUTS` holds the input column as data, each network's inputs
in the order it takes them (avmodel takes a list: video, then acoustic images).
"""
from __future__ import annotations

from collections.abc import Callable

import keras

from models.avmodel import avmodel
from models.dualcamnet import dualcamnet, dualcamnet_v2, dualcamnet_v2_teacher
from models.hearnet import hearnet_a, hearnet_b
from models.resnet import resnet18_v1, resnet50, temporal_resnet50
from models.soundnet import soundnet5

MODELS: dict[str, Callable[..., keras.Model]] = {
    "dualcamnet": dualcamnet,
    "dualcamnet_v2": dualcamnet_v2,
    "dualcamnet_v2_teacher": dualcamnet_v2_teacher,
    "hearnet_a": hearnet_a,
    "hearnet_b": hearnet_b,
    "soundnet5": soundnet5,
    "resnet18_v1": resnet18_v1,
    "resnet50": resnet50,
    "temporal_resnet50": temporal_resnet50,
    "avmodel": avmodel,
}

DEFAULT_INPUTS: dict[str, dict[str, tuple[int, ...]]] = {
    "dualcamnet": {"acoustic_images": (24, 36, 48, 12)},
    "dualcamnet_v2": {"acoustic_images": (12, 36, 48, 12)},
    "dualcamnet_v2_teacher": {"acoustic_images": (12, 36, 48, 12)},
    "hearnet_a": {"spectrogram": (200, 1, 257)},
    "hearnet_b": {"spectrogram": (500, 1, 257)},
    "soundnet5": {"waveform": (110_250, 1)},
    "resnet18_v1": {"video": (2, 224, 298, 3)},
    "resnet50": {"video": (5, 224, 224, 3)},
    "temporal_resnet50": {"video": (5, 224, 224, 3)},
    "avmodel": {"video": (5, 224, 224, 3), "acoustic_images": (60, 36, 48, 12)},
}


def build_model(name: str, **kwargs) -> keras.Model:
    """The model `name`, built by MODELS[name](**kwargs)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name](**kwargs)
