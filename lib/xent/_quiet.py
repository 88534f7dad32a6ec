"""Import TensorFlow without its log lines.

TensorFlow 2.21 writes absl/C++ log lines ("oneDNN custom operations are on", "Could not find
cuda drivers", "cuInit failed", ...) straight to file descriptor 2 at import and at its first op.
No environment variable silences all of them, and in a notebook they would sit under every cell
that happens to trigger them. We redirect descriptor 2 to /dev/null around the import and a first
op, once, here; nothing else is hidden.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def _stderr_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def import_tensorflow():
    """Import TensorFlow (and Keras on it) and run a first op, with descriptor 2 silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _stderr_to_devnull():
        import keras  # noqa: F401  (Keras 3 registers itself on first import: do it here, quietly)
        import tensorflow as tf

        tf.reduce_sum(tf.constant([1.0]) + 1.0).numpy()  # the first op logs the CUDA probe
    return tf
