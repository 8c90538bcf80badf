"""HearNet: the spectrogram network of both papers.

Input: STFT magnitudes float32 (batch, T_spec, 1, 257), time on the height axis and the 257
frequency bins as channels, so every kernel below is [k, 1] over time. (A) uses 2-s samples
(T_spec = 200), (B) 5-s samples (T_spec = 500); they differ only in conv4's kernel, which
spans what is left of the time axis after three max-pools of 5.
"""
from __future__ import annotations

import keras
from keras import layers

from dataloader.config import SPECTROGRAM
from models.functional import Functional
from models.layers import CLASSIFIER, EMBEDDING, check_mode, dense_stack, output, weight_decay

FREQUENCY_BINS = 257
WEIGHT_DECAY = 5e-4
POOL = 5

# Top to bottom: (name, filters, kernel over time, padding, max-pool [5, 1]/5 after). ReLU on
# all, L2 5e-4 on all, slim's default Glorot-uniform initialisation.
CONVS = (
    ("conv1", 128, 11, "same", True),
    ("conv2", 256, 5, "same", True),
    ("conv3", 256, 3, "same", True),
    ("conv4", 1024, None, "valid", False),  # kernel per variant, CONV4_KERNEL
    ("conv5", 1024, 1, "same", False),
)
CONV4_KERNEL = {"a": 1, "b": 4}
# The heads ("shared_net"), N(0, 0.01), no weight decay. Embedding (A): fc 1000 ReLU -> fc 128
# linear. Classifier: (A) adds fc 128 ReLU before the class layer, (B) goes from fc 1000
# straight to the classes; the extra N(0, 0.01) layer makes the starting logits some twenty times smaller.
EMBEDDING_HEAD = (1000, 128)
CLASSIFIER_HIDDEN = {"a": EMBEDDING_HEAD, "b": (1000,)}


def _hearnet(mode: str, num_classes: int, num_frames: int, variant: str) -> keras.Model:
    check_mode(mode)
    inputs = keras.Input((num_frames, 1, FREQUENCY_BINS), name=SPECTROGRAM)
    x = inputs
    for layer_name, filters, kernel, padding, pool in CONVS:
        x = layers.Conv2D(filters, (kernel or CONV4_KERNEL[variant], 1), padding=padding, activation="relu",
                          kernel_regularizer=weight_decay(WEIGHT_DECAY), name=layer_name)(x)
        if pool:
            x = layers.MaxPooling2D((POOL, 1), name=layer_name.replace("conv", "pool"))(x)
    # At the papers' lengths one time step is left; longer inputs are averaged over time.
    x = layers.GlobalAveragePooling2D(name="mean_time")(x)
    if mode == EMBEDDING:
        x = dense_stack(x, EMBEDDING_HEAD, ("fc1", "fc2"))
    else:
        widths = (*CLASSIFIER_HIDDEN[variant], num_classes)
        x = dense_stack(x, widths, tuple(f"fc{i}" for i in range(1, len(widths) + 1)))
    return Functional(inputs, output(x, mode), name=f"hearnet_{variant}")


def hearnet_a(mode: str = CLASSIFIER, num_classes: int = 10, num_frames: int = 200) -> keras.Model:
    """HearNet of (A): conv4 is 1x1 (200 frames leave one step after the pools).

    Input  spectrogram (batch, num_frames, 1, 257), 200 STFT frames for 2 s.
    Output embedding:  (batch, 128): fc 1000 ReLU -> fc 128, linear.
           classifier: (batch, num_classes): fc 1000 ReLU -> fc 128 ReLU -> fc classes.
    """
    return _hearnet(mode, num_classes, num_frames, "a")


def hearnet_b(mode: str = CLASSIFIER, num_classes: int = 14, num_frames: int = 500) -> keras.Model:
    """HearNet of (B): conv4 is [4, 1] VALID (500 frames leave four steps after the pools).

    Input  spectrogram (batch, num_frames, 1, 257), 500 STFT frames for 5 s.
    Output embedding:  (batch, 128), as hearnet_a ((B) had no embedding mode).
           classifier: (batch, num_classes): fc 1000 ReLU -> fc classes, (B)'s head.
    """
    return _hearnet(mode, num_classes, num_frames, "b")
