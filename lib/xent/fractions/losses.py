"""The training losses of the fraction problem, written once for NumPy, PyTorch and TensorFlow.

Every loss is a per-sample value, summed over the classes; training averages it over the batch.
z are the logits, p = softmax(z), y the target fractions. Two families:

Cross-entropy family, ``scale * CE(z, t) - offset`` with `xent.<backend>.softmax_cross_entropy`:

- ``cross_entropy``: -sum_k y_k log p_k (t = y, scale 1, offset 0).
- ``kl``: KL(y || p) = CE - H(y) (offset = the target entropy): the same gradient as
  cross_entropy, so the same trained network; only the reported value differs.
- ``weighted_cross_entropy``: -sum_k w_k y_k log p_k, with fixed class weights w. It is written
  as (sum_k w_k y_k) * CE(z, w y / sum_k w_k y_k), so the target stays a distribution. Not
  proper: its minimiser is p_k proportional to w_k E[y_k | x]. Subtracting log w_k from the
  logits at prediction time undoes this (`FractionMLP.predict(x, adjust=True)`).

Squared family, ``sum_k c_k (p_k - y_k)^2``, optionally divided by a frozen p_k:

- ``mse``: c = 1, the Brier score.
- ``mse_mean_over_classes``: c = 1 / n_classes, what Keras' ``mse`` computes.
- ``weighted_mse``: c = w, fixed class weights. Still proper.
- ``fisher_mse``: c = 1, divided by stop_gradient(p_k): Pearson's chi^2 with frozen weights.
  Its gradient with respect to the logits is exactly 2 (p - y), twice that of cross_entropy.

The class weights are w_k = 1 / mean(y_k) over the training targets, not normalised (so
sum_k w_k mean(y_k) = n_classes).
"""

from typing import NamedTuple

import numpy as np

import xent.numpy as xnp
from xent import _checks
from xent.fractions.metrics import xlogy

#: The losses `train` accepts, with one line on each.
LOSSES = {
    "cross_entropy": "softmax cross-entropy with soft targets, -sum_k y_k log p_k",
    "kl": "KL(y || p) = cross-entropy minus the target entropy (same gradient)",
    "mse": "squared error of the softmax output, summed over classes (Brier score)",
    "mse_mean_over_classes": "squared error averaged over classes (Keras' mse)",
    "weighted_mse": "squared error with fixed class weights 1 / mean(y_k) (proper)",
    "weighted_cross_entropy": "cross-entropy with class weights 1 / mean(y_k) (biased)",
    "fisher_mse": "squared error divided by stop_gradient(p_k): gradient 2 (p - y)",
}

_CROSS_ENTROPY_FAMILY = ("cross_entropy", "kl", "weighted_cross_entropy")


class LossSpec(NamedTuple):
    """A loss, ready for one training set: which family and its fixed constants."""

    name: str
    cross_entropy_family: bool
    coef: np.ndarray | None  #: (n_classes,) c_k of the squared family
    fisher: bool  #: divide the squared family by stop_gradient(p)
    class_weights: np.ndarray | None  #: w_k of the weighted losses


class Ops(NamedTuple):
    """What a backend supplies to `per_sample_loss`: its xent module and three primitives."""

    xent: object  #: xent.numpy, xent.torch or xent.tensorflow
    sum_classes: object  #: sum over the last axis
    stop_gradient: object  #: the value, with no gradient flowing through it
    constant: object  #: a NumPy array as a tensor of this backend


#: The NumPy backend's `Ops` (NumPy has no gradients to stop).
NUMPY_OPS = Ops(xnp, lambda a: a.sum(axis=-1), lambda a: a, np.asarray)


def backend_ops(backend):
    """The `Ops` of "numpy", "torch" or "tensorflow" (importing that framework)."""
    if backend == "numpy":
        return NUMPY_OPS
    if backend == "torch":
        import torch

        import xent.torch as xtorch

        return Ops(xtorch, lambda a: a.sum(dim=-1), lambda a: a.detach(), torch.from_numpy)
    if backend == "tensorflow":
        import xent.tensorflow as xtf

        tf = xtf.tf
        return Ops(xtf, lambda a: tf.reduce_sum(a, axis=-1), tf.stop_gradient, tf.constant)
    raise ValueError(f"unknown backend {backend!r}; choose one of numpy, torch, tensorflow")


def class_weights(targets):
    """w_k = 1 / mean over samples of targets[:, k]: the weights of the weighted losses."""
    means = np.asarray(targets, dtype=np.float64).mean(axis=0)
    if (means == 0).any():
        k = int(np.flatnonzero(means == 0)[0])
        raise _checks.InputError(
            f"class {k} is 0 in every training target: a class weight 1 / mean(y_k) is infinite"
        )
    return 1.0 / means


def make_loss(name, train_targets, dtype=np.float64):
    """The `LossSpec` of loss `name` for these training targets (which fix the class weights)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    n_classes = np.shape(train_targets)[-1]
    weights = class_weights(train_targets) if name.startswith("weighted") else None
    coef = None
    if name not in _CROSS_ENTROPY_FAMILY:
        coef = {
            "mse": np.ones(n_classes),
            "mse_mean_over_classes": np.full(n_classes, 1.0 / n_classes),
            "weighted_mse": weights,
            "fisher_mse": np.ones(n_classes),
        }[name].astype(dtype)
    return LossSpec(name, name in _CROSS_ENTROPY_FAMILY, coef, name == "fisher_mse", weights)


def loss_terms(spec, targets, dtype=np.float64):
    """The per-sample arrays `per_sample_loss` needs for `targets`, as a dict of NumPy arrays.

    Cross-entropy family: ``targets`` (t), ``scale`` and ``offset``; squared family: ``targets``.
    Computed once per data set; training slices them batch by batch.
    """
    y = np.asarray(targets, dtype=np.float64)
    if not spec.cross_entropy_family:
        return {"targets": y.astype(dtype)}
    scale, offset = np.ones(len(y)), np.zeros(len(y))
    if spec.name == "kl":
        offset = -xlogy(y, y).sum(axis=1)  # the target entropy H(y), with 0 log 0 = 0
    if spec.name == "weighted_cross_entropy":
        weighted = y * spec.class_weights
        scale = weighted.sum(axis=1)
        y = weighted / scale[:, None]
    return {
        "targets": y.astype(dtype),
        "scale": scale.astype(dtype),
        "offset": offset.astype(dtype),
    }


def per_sample_loss(spec, logits, terms, ops):
    """The loss of each sample, in the backend that `ops` describes (autograd-friendly)."""
    if spec.cross_entropy_family:
        ce = ops.xent.softmax_cross_entropy(logits, terms["targets"])
        return terms["scale"] * ce - terms["offset"]
    p = ops.xent.softmax(logits)
    squares = ops.constant(spec.coef) * (p - terms["targets"]) ** 2
    if spec.fisher:
        squares = squares / ops.stop_gradient(p)
    return ops.sum_classes(squares)


def numpy_logit_grad(spec, logits, terms):
    """d per_sample_loss / d logits in NumPy, one row per sample, from the derived gradients.

    Cross-entropy family: scale * (p - t), from `xent.numpy.softmax_cross_entropy_grad`.
    Squared family: with g_p = dL/dp = 2 c (p - y) [/ p for fisher_mse], the chain rule through
    the softmax Jacobian diag(p) - p p^T gives g_z = p * (g_p - sum_k p_k g_p,k).
    """
    if spec.cross_entropy_family:
        return terms["scale"][:, None] * xnp.softmax_cross_entropy_grad(logits, terms["targets"])
    p = xnp.softmax(logits)
    g_p = 2 * spec.coef * (p - terms["targets"])
    if spec.fisher:
        g_p = g_p / p
    return p * (g_p - (p * g_p).sum(axis=1, keepdims=True))
