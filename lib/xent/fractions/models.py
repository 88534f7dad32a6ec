"""The network of the fraction problem: an MLP with linear logits and a softmax on top.

Parameters are a flat list of NumPy arrays ``[W1, b1, W2, b2, W3, b3]`` (two hidden layers, the
default) with ``W`` of shape (fan_in, fan_out), drawn from a NumPy seed: every backend starts
from the very same numbers.
`mlp_layers` is one forward pass for all three backends (it uses only ``@``, ``+`` and the
activation you hand it); `mlp_backward` is the hand-written backward pass of the NumPy backend.
"""

from dataclasses import dataclass, field

import numpy as np

import xent.numpy as xnp
from xent import _checks

ACTIVATIONS = ("relu", "tanh")


def init_params(
    n_features, n_classes=6, hidden=(64, 64), activation="relu", seed=0, dtype="float64"
):
    """Initial weights from `np.random.default_rng(seed)`; biases 0.

    Hidden layers: W ~ N(0, gain / fan_in) with gain 2 for ReLU (He) and 1 for tanh (LeCun);
    the logit layer: N(0, 1 / fan_in).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {ACTIVATIONS}")
    if any(isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1 for h in hidden):
        raise ValueError(f"hidden must list layer widths >= 1 (or be empty), got {hidden!r}")
    sizes = [n_features, *hidden, n_classes]
    rng = np.random.default_rng(seed)
    params = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        gain = 1.0 if i == len(sizes) - 2 or activation == "tanh" else 2.0
        params.append(rng.normal(0.0, np.sqrt(gain / fan_in), (fan_in, fan_out)).astype(dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params


def mlp_layers(params, x, activation):
    """The output of every layer, the logits last; `activation` is the backend's function."""
    n_layers = len(params) // 2
    outputs, h = [], x
    for i in range(n_layers):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n_layers - 1:
            h = activation(h)
        outputs.append(h)
    return outputs


def numpy_activation(name):
    """The NumPy activation function called `name`."""
    return {"relu": lambda h: np.maximum(h, 0), "tanh": np.tanh}[name]


def mlp_backward(params, inputs, grad_logits, activation):
    """Gradients of the loss with respect to every parameter, in the order of `params`.

    `inputs[i]` is the input of layer i (x, then each hidden layer's output) and `grad_logits`
    the gradient with respect to the logits. The activation's derivative is taken from its
    output h: 1[h > 0] for ReLU, 1 - h^2 for tanh.
    """
    n_layers = len(params) // 2
    grads = [None] * len(params)
    g = grad_logits
    for i in reversed(range(n_layers)):
        grads[2 * i] = inputs[i].T @ g
        grads[2 * i + 1] = g.sum(axis=0)
        if i > 0:
            h = inputs[i]
            g = g @ params[2 * i].T
            g = g * (h > 0) if activation == "relu" else g * (1 - h * h)
    return grads


@dataclass
class FractionMLP:
    """A trained network: features in, fractions out (NumPy, whichever backend trained it).

    `history` holds one list per recorded quantity, one entry per epoch
    (``pandas.DataFrame(model.history)`` is the learning-curve table); `config` records how the
    model was trained.
    """

    params: list
    activation: str = "relu"
    #: added to the logits by ``predict(x, adjust=True)``: -log w for weighted_cross_entropy
    logit_adjustment: np.ndarray | None = None
    history: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    @property
    def n_features(self):
        return self.params[0].shape[0]

    def logits(self, x, adjust=False):
        """The logits for features x, shape (n, n_classes); see `predict` for `adjust`."""
        x = np.asarray(x)
        _checks.check_features("x", x)
        if x.shape[1] != self.n_features:
            raise _checks.InputError(
                f"the model takes {self.n_features} features, x has {x.shape[1]}"
            )
        z = mlp_layers(
            self.params, x.astype(self.params[0].dtype), numpy_activation(self.activation)
        )[-1]
        if adjust:
            if self.logit_adjustment is None:
                raise ValueError(
                    "adjust=True undoes the class weights of weighted_cross_entropy; "
                    f"this model was trained with {self.config.get('loss')!r}, which needs none"
                )
            z = z + self.logit_adjustment
        return z

    def predict(self, x, adjust=False):
        """Predicted fractions for features x, shape (n, n_classes), rows summing to 1.

        adjust=True (weighted_cross_entropy only) subtracts log w_k from the logits before the
        softmax, which moves the biased minimiser p_k ~ w_k E[y_k|x] back to E[y_k|x]
        (the logit adjustment of Menon et al. 2021).
        """
        return xnp.softmax(self.logits(x, adjust))
