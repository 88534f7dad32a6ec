"""The frameworks' own functions, each adapted to our signature, for the agreement tables.

Every adapter takes NumPy inputs, calls the framework's built-in exactly as a user would (the
native API stays visible here: no aliases in the chapters), and returns NumPy values plus the
gradient of their sum with respect to the logits (from autograd), or None where that gradient
is not part of the comparison.

`BUILTINS[name]` lists `(label, adapter)` pairs for each function of `xent.FUNCTIONS`.
Importing this module imports torch and TensorFlow.
"""

import torch
import torch.nn.functional as F

from xent._quiet import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, which the quiet import sets up as its backend)


def run_torch(fn, logits, *rest, grad=True):
    """fn(torch tensors) -> (values, d sum(values) / d logits) as NumPy arrays."""
    x = torch.tensor(logits, requires_grad=grad)
    out = fn(x, *(torch.as_tensor(r) for r in rest))
    g = torch.autograd.grad(out.sum(), x)[0].numpy() if grad else None
    return out.detach().numpy(), g


def run_tensorflow(fn, logits, *rest, grad=True):
    """fn(tf tensors) -> (values, d sum(values) / d logits) as NumPy arrays."""
    x = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = fn(x, *(tf.constant(r) for r in rest))
        total = tf.reduce_sum(out)
    g = tape.gradient(total, x).numpy() if grad else None
    return out.numpy(), g


def _keras(loss_class, elementwise=False):
    """A Keras loss with from_logits=True, no reduction, computing in the input's dtype.

    (Keras losses compute in `keras.config.floatx()`, float32, unless told otherwise: a float64
    input would silently be scored in float32.) Keras takes (y_true, y_pred), targets first.
    For element-wise losses Keras averages over the last axis, so a trailing axis of 1 is added.
    """

    def adapter(logits, targets):
        loss = loss_class(from_logits=True, reduction=None, dtype=str(logits.dtype))

        def call(x, y):
            if elementwise:
                return loss(y[..., None], x[..., None])
            return loss(y, x)

        return run_tensorflow(call, logits, targets)

    return adapter


BUILTINS = {
    "logsumexp": [
        ("torch.logsumexp", lambda x: run_torch(lambda t: torch.logsumexp(t, dim=-1), x)),
        (
            "tf.math.reduce_logsumexp",
            lambda x: run_tensorflow(lambda t: tf.math.reduce_logsumexp(t, axis=-1), x),
        ),
    ],
    "softmax": [
        ("torch.softmax", lambda x: run_torch(lambda t: torch.softmax(t, dim=-1), x, grad=False)),
        ("tf.nn.softmax", lambda x: run_tensorflow(tf.nn.softmax, x, grad=False)),
    ],
    "log_softmax": [
        (
            "torch.log_softmax",
            lambda x: run_torch(lambda t: torch.log_softmax(t, dim=-1), x, grad=False),
        ),
        ("tf.nn.log_softmax", lambda x: run_tensorflow(tf.nn.log_softmax, x, grad=False)),
    ],
    "sigmoid": [
        ("torch.sigmoid", lambda x: run_torch(torch.sigmoid, x, grad=False)),
        ("tf.math.sigmoid", lambda x: run_tensorflow(tf.math.sigmoid, x, grad=False)),
    ],
    "log_sigmoid": [
        ("F.logsigmoid", lambda x: run_torch(F.logsigmoid, x)),
        ("tf.math.log_sigmoid", lambda x: run_tensorflow(tf.math.log_sigmoid, x)),
    ],
    "softmax_cross_entropy": [
        (
            "F.cross_entropy (probabilities)",
            lambda x, y: run_torch(lambda t, u: F.cross_entropy(t, u, reduction="none"), x, y),
        ),
        (
            "tf.nn.softmax_cross_entropy_with_logits",
            lambda x, y: run_tensorflow(
                lambda t, u: tf.nn.softmax_cross_entropy_with_logits(labels=u, logits=t), x, y
            ),
        ),
        ("keras CategoricalCrossentropy", _keras(keras.losses.CategoricalCrossentropy)),
    ],
    "sparse_softmax_cross_entropy": [
        (
            "F.cross_entropy (indices)",
            lambda x, k: run_torch(lambda t, u: F.cross_entropy(t, u, reduction="none"), x, k),
        ),
        (
            "tf.nn.sparse_softmax_cross_entropy_with_logits",
            lambda x, k: run_tensorflow(
                lambda t, u: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=u, logits=t),
                x,
                k,
            ),
        ),
        ("keras SparseCategoricalCrossentropy", _keras(keras.losses.SparseCategoricalCrossentropy)),
    ],
    "sigmoid_cross_entropy": [
        (
            "F.binary_cross_entropy_with_logits",
            lambda x, y: run_torch(
                lambda t, u: F.binary_cross_entropy_with_logits(t, u, reduction="none"), x, y
            ),
        ),
        (
            "tf.nn.sigmoid_cross_entropy_with_logits",
            lambda x, y: run_tensorflow(
                lambda t, u: tf.nn.sigmoid_cross_entropy_with_logits(labels=u, logits=t), x, y
            ),
        ),
        ("keras BinaryCrossentropy", _keras(keras.losses.BinaryCrossentropy, elementwise=True)),
    ],
    # TensorFlow has no KL divergence in tf.nn; Keras takes probabilities, so softmax first
    "kl_divergence": [
        (
            "F.kl_div(log_softmax)",
            lambda x, y: run_torch(
                lambda t, u: F.kl_div(F.log_softmax(t, dim=-1), u, reduction="none").sum(-1),
                x,
                y,
            ),
        ),
        (
            "keras KLDivergence(softmax)",
            lambda x, y: run_tensorflow(
                lambda t, u: keras.losses.KLDivergence(reduction=None, dtype=str(x.dtype))(
                    u, tf.nn.softmax(t)
                ),
                x,
                y,
            ),
        ),
    ],
    # the first argument is probabilities here (compare passes it where logits usually go);
    # torch clamps each log at -100, Keras clips p to [1e-7, 1 - 1e-7]; tf.nn has no such op
    "binary_cross_entropy_from_probs": [
        (
            "F.binary_cross_entropy",
            lambda p, y: run_torch(
                lambda t, u: F.binary_cross_entropy(t, u, reduction="none"), p, y
            ),
        ),
        (
            "keras BinaryCrossentropy (probabilities)",
            lambda p, y: run_tensorflow(
                lambda t, u: keras.losses.BinaryCrossentropy(
                    from_logits=False, reduction=None, dtype=str(p.dtype)
                )(u[..., None], t[..., None]),
                p,
                y,
            ),
        ),
    ],
}

__all__ = ["BUILTINS", "run_tensorflow", "run_torch"]
