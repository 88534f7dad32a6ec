"""The textbook formulas, as most code writes them, kept to show where they fail.

These are NOT part of the library's API for computing losses: the chapters run them next to
`xent.numpy` to show overflow, underflow and cancellation, and the accuracy plots score them.
No input checks here, on purpose: they behave like the one-liners people paste.
"""

import numpy as np


def naive_logsumexp(logits):
    """log(sum(exp(x))): overflows once a logit passes ~88.7 (float32) or ~709.8 (float64)."""
    return np.log(np.exp(logits).sum(axis=-1))


def naive_softmax(logits):
    """exp(x) / sum(exp(x)): inf/inf = NaN after overflow, 0/0 after underflow."""
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def shifted_logsumexp(logits):
    """a + log(sum(exp(x - a))): never overflows, but log() of a sum that rounds to 1 + s."""
    a = logits.max(axis=-1, keepdims=True)
    return (a + np.log(np.exp(logits - a).sum(axis=-1, keepdims=True)))[..., 0]


def shifted_sparse_softmax_cross_entropy(logits, labels):
    """log(sum(exp(x - a))) - (x_label - a): the formula inside torch and TensorFlow.

    Stable against overflow, but when the true class dominates the sum rounds to 1 and the
    loss (all of it in the digits lost) comes out as 0.
    """
    z = logits - logits.max(axis=-1, keepdims=True)
    z_label = np.take_along_axis(z, np.asarray(labels)[..., None], axis=-1)[..., 0]
    return np.log(np.exp(z).sum(axis=-1)) - z_label
