"""Cross-Entropy, Side by Side: the cross-entropy family in NumPy, PyTorch and TensorFlow.

The backends live in their own modules with the same public names and signatures::

    from xent import numpy as xnp        # NumPy, with the derived gradients (`*_grad`)
    from xent import torch as xtorch     # PyTorch; autograd gives the gradients
    from xent import tensorflow as xtf   # TensorFlow; GradientTape gives the gradients

Importing ``xent`` itself is cheap: it imports no framework.
"""

__version__ = "0.1.0"

#: The backend modules, in the order the book shows them.
BACKENDS = ("numpy", "torch", "tensorflow")

#: The public functions every backend defines, with the same signature everywhere.
FUNCTIONS = (
    "logsumexp",
    "softmax",
    "log_softmax",
    "sigmoid",
    "log_sigmoid",
    "softmax_cross_entropy",
    "sparse_softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "kl_divergence",
    "binary_cross_entropy_from_probs",
    "sigmoid_focal_loss",
    "softmax_focal_loss",
    "poly1_cross_entropy",
    "chunked_softmax_cross_entropy",
    "sampled_softmax_loss",
    "nce_loss",
)

#: Helpers that are not losses of logits (target transforms, reductions): same signature in
#: every backend too, but no agreement table of their own.
HELPERS = ("reduce_loss", "smooth_labels")

from xent._checks import InputError  # noqa: E402  (after the constants, which it does not use)

__all__ = ["BACKENDS", "FUNCTIONS", "HELPERS", "InputError", "__version__"]
