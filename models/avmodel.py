"""AVModel of (B): video and acoustic images fused frame by frame under one shared head.

The original concatenated ResNet-50 and DualCamNet outputs of different frame counts and
never ran. Here every video frame is paired with the acoustic frames of its own slice of the
sample: with V video frames and A = k * V acoustic frames, the features of the k consecutive
acoustic frames in a video frame's slice are averaged, so both streams cover the same time.
"""
from __future__ import annotations

import keras
from keras import layers

from dataloader.camera import ACOUSTIC_IMAGE_SHAPE
from dataloader.config import ACOUSTIC_IMAGE, VIDEO_FRAMES
from models.dualcamnet import dualcamnet_v2
from models.functional import Functional
from models.layers import CLASSIFIER, EMBEDDING, check_mode, dense_stack, mean_over_frames, output
from models.resnet import resnet50

HEAD = 1000  # the shared head of (B): fc 1000 ReLU -> fc classes, N(0, 0.01)


def avmodel(mode: str = CLASSIFIER, num_classes: int = 14, video_frames: int = 5, acoustic_frames: int = 60,
            frame_shape: tuple[int, int, int] = (224, 224, 3), weights: str | None = None,
            train_video_backbone: bool = False) -> keras.Model:
    """ResNet-50 pooled features (2048) ++ DualCamNet v2 full1 (1024) per video frame -> fc
    1000 ReLU -> fc classes, the logits averaged over the video frames. The ResNet-50 is
    frozen by default (as in resnet50); DualCamNet and the head train.

    Inputs in this order (a list):
           video           (batch, video_frames, 224, 224, 3), e.g. 5 frames for 5 s;
           acoustic_image  (batch, acoustic_frames, 36, 48, 12), 12 per second (60 for 5 s);
           acoustic_frames must be a multiple of video_frames.
    Output embedding:  (batch, video_frames, 3072), the fused features of every video frame.
           classifier: (batch, num_classes).
    weights: a local Keras ImageNet ResNet-50 file for the video stream (see resnet50).
    """
    check_mode(mode)
    if acoustic_frames % video_frames:
        raise ValueError(f"acoustic_frames ({acoustic_frames}) must be a multiple of video_frames ({video_frames})")
    video_net = resnet50(EMBEDDING, num_frames=video_frames, frame_shape=frame_shape, weights=weights,
                         train_backbone=train_video_backbone)
    acoustic_net = dualcamnet_v2(EMBEDDING, num_frames=acoustic_frames)
    video = keras.Input((video_frames, *frame_shape), name=VIDEO_FRAMES)
    acoustic_image = keras.Input((acoustic_frames, *ACOUSTIC_IMAGE_SHAPE), name=ACOUSTIC_IMAGE)
    per_video_frame = acoustic_frames // video_frames
    acoustic = layers.AveragePooling1D(per_video_frame, name="acoustic_per_video_frame")(acoustic_net(acoustic_image))
    x = layers.Concatenate(name="fuse")([video_net(video), acoustic])
    if mode == CLASSIFIER:
        x = mean_over_frames(dense_stack(x, (HEAD, num_classes), ("fc1", "fc2")))
    return Functional([video, acoustic_image], output(x, mode), name="avmodel")
