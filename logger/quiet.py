"""Keeps TensorFlow's native start-up logging out of our commands' output.

Every entry point imports this module before anything imports tensorflow: the native
libraries read TF_CPP_MIN_LOG_LEVEL once, when they are loaded. On a machine without a GPU
they log, at every start, that no CUDA driver was found, that the cuFFT/cuDNN/cuBLAS
factories were registered twice (an ERROR-level line of the pip package's own, harmless),
that oneDNN is on, which CPU instructions the binary does not use, and that TensorRT is
missing: level 3 drops all of these. An error of TensorFlow's still reaches the user,
raised as a Python exception (`tf.errors.OpError`) with its message; Python-side warnings
are not affected. `TF_CPP_MIN_LOG_LEVEL=0 python main.py ...` shows the native logs again.

XLA (`--jit_compile`) and the multi-worker runtime log a few INFO lines through a copy of
absl bundled inside TensorFlow that no environment variable reaches; those remain.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

