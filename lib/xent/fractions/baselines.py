"""Compositional baselines for the fraction problem: log-ratios, zero replacement, Dirichlet.

The Aitchison school treats a row of fractions as a *composition* and moves it to real
coordinates with a log-ratio transform (Aitchison 1982; ILR: Egozcue et al. 2003):

- ``alr(y)_k = log(y_k / y_ref)`` for every part k but the reference part;
- ``clr(y)_k = log(y_k / g(y))`` with g the geometric mean of the row;
- ``ilr(y) = clr(y) @ V`` with V an orthonormal (D, D-1) basis of the plane sum = 0
  (`ilr_basis`), an isometry: Euclidean distances of ILR coordinates are Aitchison distances.

All of them take logarithms, so a single zero part makes them -inf: they raise
`xent.InputError` instead. `multiplicative_replacement` (Martin-Fernandez et al. 2003) replaces
zeros by a small delta and shrinks the other parts so that the row still sums to 1 and their
ratios are unchanged.

Two regression baselines, both NumPy-only MLPs (the network of `xent.fractions.models`, trained
with Adam by a loop of their own):

- `fit_log_ratio`: the MLP predicts the ALR or ILR coordinates of the targets, trained with the
  squared error; predictions are the inverse transform of its output. It estimates
  E[log-ratio | x], whose back-transform is a geometric-type centre, not E[y | x].
- `fit_dirichlet`: y ~ Dirichlet(phi * softmax(z(x))), trained by its negative log-likelihood
  (`dirichlet_nll`), with the precision phi learned or fixed; predictions are the Dirichlet
  mean softmax(z(x)). The density involves log y, so zeros must be replaced here too.

Nothing here is exported from `xent.fractions`; import from `xent.fractions.baselines`.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

import xent.numpy as xnp
from xent import _checks
from xent.fractions.models import init_params, mlp_backward, mlp_layers, numpy_activation

# --- log-ratio transforms


def _fractions(name, values):
    values = np.asarray(values)
    _checks.check_fractions(name, values)
    return values.astype(np.float64)


def check_positive(name, values):
    """Rows of fractions with every part > 0, as float64; else `xent.InputError`."""
    values = _fractions(name, values)
    zero = values == 0
    if zero.any():
        where = tuple(int(i) for i in np.argwhere(zero)[0])
        raise _checks.InputError(
            f"{name} has a zero part (first at index {where}, {int(zero.sum())} in all): "
            "log-ratio transforms and the Dirichlet density take log(y), and log(0) = -inf. "
            "Replace the zeros first, e.g. multiplicative_replacement(y, delta)."
        )
    return values


def _reference(reference, n_parts):
    if isinstance(reference, bool) or not isinstance(reference, int | np.integer):
        raise ValueError(f"reference must be a part index, got {reference!r}")
    if not -n_parts <= reference < n_parts:
        raise ValueError(f"reference {reference} is out of range for {n_parts} parts")
    return int(reference) % n_parts


def _coordinates(name, coords, n_coords=None):
    coords = np.asarray(coords, dtype=np.float64)
    _checks.check_features(name, coords)
    if n_coords is not None and coords.shape[1] != n_coords:
        raise _checks.InputError(f"{name} must have {n_coords} columns, got {coords.shape[1]}")
    return coords


def closure(values):
    """Each row divided by its sum: positive parts -> a composition."""
    values = np.asarray(values, dtype=np.float64)
    return values / values.sum(axis=-1, keepdims=True)


def alr(y, reference=-1):
    """Additive log-ratios log(y_k / y_reference), k != reference: shape (n, D - 1)."""
    y = check_positive("y", y)
    ref = _reference(reference, y.shape[1])
    logs = np.log(y)
    return np.delete(logs - logs[:, ref : ref + 1], ref, axis=1)


def alr_inv(coords, reference=-1):
    """The composition whose `alr` is `coords`: put 0 back at the reference part, softmax."""
    coords = _coordinates("coords", coords)
    ref = _reference(reference, coords.shape[1] + 1)
    return xnp.softmax(np.insert(coords, ref, 0.0, axis=1))


def clr(y):
    """Centred log-ratios log(y_k / g(y)), g the geometric mean of the row: shape (n, D)."""
    logs = np.log(check_positive("y", y))
    return logs - logs.mean(axis=1, keepdims=True)


def clr_inv(coords):
    """The composition whose `clr` is `coords` (if they sum to 0): the softmax."""
    return xnp.softmax(_coordinates("coords", coords))


def ilr_basis(n_parts):
    """An orthonormal (D, D-1) basis of {v : sum(v) = 0}: Helmert-type balances.

    Column i (0-based) contrasts the first i + 1 parts with part i + 2:
    sqrt((i + 1) / (i + 2)) * (1/(i+1), ..., 1/(i+1), -1, 0, ..., 0).
    """
    if isinstance(n_parts, bool) or not isinstance(n_parts, int | np.integer) or n_parts < 2:
        raise ValueError(f"n_parts must be an integer >= 2, got {n_parts!r}")
    basis = np.zeros((n_parts, n_parts - 1))
    for i in range(n_parts - 1):
        basis[: i + 1, i] = 1.0 / (i + 1)
        basis[i + 1, i] = -1.0
        basis[:, i] *= math.sqrt((i + 1) / (i + 2))
    return basis


def ilr(y):
    """Isometric log-ratios clr(y) @ V, V = `ilr_basis(D)`: shape (n, D - 1)."""
    c = clr(y)
    return c @ ilr_basis(c.shape[1])


def ilr_inv(coords):
    """The composition whose `ilr` is `coords`: softmax(coords @ V^T)."""
    coords = _coordinates("coords", coords)
    return xnp.softmax(coords @ ilr_basis(coords.shape[1] + 1).T)


def aitchison_distance(a, b):
    """|| clr(a) - clr(b) || per row: the distance of the Aitchison geometry."""
    return np.linalg.norm(clr(a) - clr(b), axis=1)


TRANSFORMS = {"alr": (alr, alr_inv), "ilr": (ilr, ilr_inv)}


# --- zeros


def multiplicative_replacement(y, delta):
    """Zeros replaced by `delta`, the other parts of the row scaled by 1 - delta * (#zeros).

    Rows keep summing to 1, and the ratios between the non-zero parts are unchanged
    (Martin-Fernandez, Barcelo-Vidal & Pawlowsky-Glahn 2003). `delta` is a modelling choice,
    typically a fraction of the detection limit (for counts out of n: below 1/n); log-ratio
    answers depend on it.
    """
    y = _fractions("y", y)
    if not (isinstance(delta, int | float | np.floating) and math.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be a positive number, got {delta!r}")
    zero = y == 0
    n_zero = zero.sum(axis=1, keepdims=True)
    if (delta * n_zero >= 1).any():
        raise ValueError(
            f"delta = {delta} is too large: a row with {int(n_zero.max())} zeros would have "
            "nothing left for its other parts"
        )
    return np.where(zero, delta, y * (1 - delta * n_zero))


# --- log-gamma and digamma (NumPy has neither; SciPy is not a dependency)

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _positive(x):
    """x as float64, which must be finite and > 0 (the domain of lgamma and digamma)."""
    x = np.asarray(x, dtype=np.float64)
    if not (np.isfinite(x).all() and (x > 0).all()):
        raise ValueError("lgamma and digamma are implemented for finite x > 0 only")
    return x


_SHIFT = np.arange(10.0)  # x < 10 is moved to x + 10 by the recurrences below


def lgamma(x):
    """log Gamma(x) for x > 0, element-wise, to about 1e-13.

    For x < 10, Gamma(x) = Gamma(x + 10) / (x (x + 1) ... (x + 9)); then Stirling's series.
    """
    x = _positive(x)
    small = x < 10
    z = np.where(small, x + 10, x)
    product = np.prod(x[..., None] + _SHIFT, axis=-1, where=small[..., None])
    zi, zi2 = 1 / z, 1 / (z * z)
    series = zi * (1 / 12 - zi2 * (1 / 360 - zi2 * (1 / 1260 - zi2 * (1 / 1680 - zi2 / 1188))))
    return (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + series - np.log(product)


def digamma(x):
    """psi(x) = d log Gamma(x) / dx for x > 0, element-wise, to about 1e-13.

    For x < 10, psi(x) = psi(x + 10) - sum_{i<10} 1 / (x + i); then the asymptotic series.
    """
    x = _positive(x)
    small = x < 10
    z = np.where(small, x + 10, x)
    recurrence = np.sum(1 / (x[..., None] + _SHIFT), axis=-1, where=small[..., None])
    zi2 = 1 / (z * z)
    series = zi2 * (1 / 12 - zi2 * (1 / 120 - zi2 * (1 / 252 - zi2 * (1 / 240 - zi2 / 132))))
    return np.log(z) - 0.5 / z - series - recurrence


# --- the Dirichlet likelihood


def _precision(precision, n):
    phi = np.broadcast_to(np.asarray(precision, dtype=np.float64), (n,))
    if not (np.isfinite(phi).all() and (phi > 0).all()):
        raise ValueError(f"the precision must be positive and finite, got {precision!r}")
    return phi


def dirichlet_nll(logits, y, precision):
    """-log Dir(y; alpha) per sample, alpha = precision * softmax(logits).

    -log Gamma(phi) + sum_k log Gamma(alpha_k) - sum_k (alpha_k - 1) log y_k, phi = sum alpha.
    `y` must have every part > 0 (else `xent.InputError`); `precision` is a scalar or one
    value per sample.
    """
    y = check_positive("y", y)
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape != y.shape:
        raise _checks.InputError(f"logits {logits.shape} and y {y.shape} must have one shape")
    phi = _precision(precision, len(y))
    alpha = phi[:, None] * xnp.softmax(logits)
    return -lgamma(phi) + lgamma(alpha).sum(axis=1) - ((alpha - 1) * np.log(y)).sum(axis=1)


def dirichlet_nll_grad(logits, y, precision):
    """Gradients of `dirichlet_nll` per sample: (d/d logits (n, D), d/d precision (n,)).

    With g_k = psi(alpha_k) - log y_k: d/d alpha_k = g_k (the -psi(phi) part is constant over
    k and cancels through the softmax), so d/d z = phi * p * (g - sum_k p_k g_k), and
    d/d phi = sum_k p_k g_k - psi(phi).
    """
    y = check_positive("y", y)
    logits = np.asarray(logits, dtype=np.float64)
    phi = _precision(precision, len(y))
    p = xnp.softmax(logits)
    g = digamma(phi[:, None] * p) - np.log(y)
    mean_g = (p * g).sum(axis=1, keepdims=True)
    return phi[:, None] * p * (g - mean_g), mean_g[:, 0] - digamma(phi)


# --- training the baselines


def _network_output(params, activation, x):
    """The MLP's last layer (log-ratio coordinates or Dirichlet logits) for features x."""
    x = _coordinates("x", x, params[0].shape[0])
    return mlp_layers(params, x, numpy_activation(activation))[-1]


@dataclass
class LogRatioRegression:
    """An MLP that predicts log-ratio coordinates; `predict` back-transforms them."""

    params: list
    transform: str  #: "alr" or "ilr"
    reference: int = -1  #: the reference part of "alr"
    activation: str = "relu"
    delta: float | None = None  #: the zero replacement used on the training targets
    history: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    def coordinates(self, x):
        """The predicted log-ratio coordinates, shape (n, D - 1)."""
        return _network_output(self.params, self.activation, x)

    def predict(self, x):
        """Predicted fractions: the inverse transform of the predicted coordinates."""
        coords = self.coordinates(x)
        if self.transform == "alr":
            return alr_inv(coords, self.reference)
        return ilr_inv(coords)


@dataclass
class DirichletRegression:
    """An MLP for the logits of a Dirichlet mean; `predict` is the mean softmax(z(x))."""

    params: list
    precision: float  #: phi, learned or fixed
    activation: str = "relu"
    delta: float | None = None
    history: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    def logits(self, x):
        return _network_output(self.params, self.activation, x)

    def predict(self, x):
        """The Dirichlet mean softmax(z(x)): predicted fractions."""
        return xnp.softmax(self.logits(x))


def _prepare(x, y, delta):
    x = _coordinates("x", x)
    y = _fractions("y", y)
    if len(x) != len(y) or len(x) == 0:
        raise _checks.InputError(f"x has {len(x)} rows and y {len(y)}: need the same, > 0")
    if delta is not None:
        y = multiplicative_replacement(y, delta)
    return x, check_positive("y", y)


def _check_training(epochs, batch_size, lr):
    for what, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")


def _adam(params, lr, betas=(0.9, 0.999), eps=1e-8):
    """An Adam update as in PyTorch, in place; returns step(grads)."""
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = [0]

    def step(grads):
        t[0] += 1
        scale = lr / (1 - betas[0] ** t[0])
        root = math.sqrt(1 - betas[1] ** t[0])
        for p, g, mi, vi in zip(params, grads, m, v, strict=True):
            mi *= betas[0]
            mi += (1 - betas[0]) * g
            vi *= betas[1]
            vi += (1 - betas[1]) * g * g
            p -= scale * mi / (np.sqrt(vi) / root + eps)

    return step


def _fit(x, n_out, loss_grad, extra, *, seed, hidden, activation, epochs, batch_size, lr):
    """Mini-batch Adam on an MLP x -> n_out outputs (plus `extra` free arrays).

    `loss_grad(out, idx, extra)` returns the mean loss of the batch `idx`, its gradient with
    respect to `out` (already divided by the batch size) and the gradients of `extra`.
    """
    from threadpoolctl import threadpool_limits

    init_seed, order_seed = np.random.SeedSequence(seed).spawn(2)
    params = init_params(x.shape[1], n_out, hidden, activation, init_seed)
    order_rng = np.random.default_rng(order_seed)
    everything = params + extra
    step = _adam(everything, lr)
    act = numpy_activation(activation)
    history = {"epoch": [], "loss": []}
    with threadpool_limits(1):  # tiny matrices: one BLAS thread is fastest
        for epoch in range(1, epochs + 1):
            order, total = order_rng.permutation(len(x)), 0.0
            for i in range(0, len(x), batch_size):
                idx = order[i : i + batch_size]
                layers = mlp_layers(params, x[idx], act)
                value, g_out, g_extra = loss_grad(layers[-1], idx, extra)
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"training diverged in epoch {epoch}: the loss became {value}. "
                        f"Lower the learning rate (lr={lr})."
                    )
                total += value * len(idx)
                step(mlp_backward(params, [x[idx], *layers[:-1]], g_out, activation) + g_extra)
            history["epoch"].append(epoch)
            history["loss"].append(total / len(x))
    return params, history


def fit_log_ratio(
    x,
    y,
    transform="ilr",
    *,
    delta=None,
    reference=-1,
    seed=0,
    hidden=(64, 64),
    activation="relu",
    epochs=20,
    batch_size=128,
    lr=3e-3,
):
    """Log-ratio regression: an MLP fitted by squared error to `transform`(y) coordinates.

    `transform` is "ilr" (squared error = squared Aitchison distance) or "alr" (reference part
    `reference`). With `delta`, zeros in y are first replaced (`multiplicative_replacement`);
    without it, a zero raises `xent.InputError`. Adam, mini-batches and the initial weights are
    as in `xent.fractions.train` (same `seed`, same layer sizes up to the output).
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"unknown transform {transform!r}; choose one of {', '.join(TRANSFORMS)}")
    _check_training(epochs, batch_size, lr)
    start = time.perf_counter()
    x, y = _prepare(x, y, delta)
    coords = alr(y, reference) if transform == "alr" else ilr(y)

    def loss_grad(out, idx, extra):
        r = out - coords[idx]
        return float((r * r).sum(axis=1).mean()), 2 * r / len(idx), []

    params, history = _fit(
        x,
        coords.shape[1],
        loss_grad,
        [],
        seed=seed,
        hidden=hidden,
        activation=activation,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
    )
    config = {"transform": transform, "delta": delta, "seed": seed, "epochs": epochs, "lr": lr}
    config["seconds"] = time.perf_counter() - start
    return LogRatioRegression(params, transform, reference, activation, delta, history, config)


def fit_dirichlet(
    x,
    y,
    *,
    delta=None,
    precision=None,
    seed=0,
    hidden=(64, 64),
    activation="relu",
    epochs=20,
    batch_size=128,
    lr=3e-3,
):
    """Dirichlet regression: y ~ Dir(phi * softmax(z(x))), fitted by maximum likelihood.

    `precision` None learns phi (as log phi, starting from phi = 10) with the network; a number
    fixes it. With `delta`, zeros in y are first replaced; without it a zero raises
    `xent.InputError`.
    """
    _check_training(epochs, batch_size, lr)
    if precision is not None:
        _precision(precision, 1)
    start = time.perf_counter()
    x, y = _prepare(x, y, delta)
    extra = [np.array(math.log(10.0 if precision is None else precision))]

    def loss_grad(out, idx, extra):
        phi = float(np.exp(extra[0]))
        value = float(dirichlet_nll(out, y[idx], phi).mean())
        g_z, g_phi = dirichlet_nll_grad(out, y[idx], phi)
        g_log_phi = np.array(0.0 if precision is not None else g_phi.mean() * phi)
        return value, g_z / len(idx), [g_log_phi]

    params, history = _fit(
        x,
        y.shape[1],
        loss_grad,
        extra,
        seed=seed,
        hidden=hidden,
        activation=activation,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
    )
    phi = float(np.exp(extra[0]))
    config = {"delta": delta, "precision": precision, "seed": seed, "epochs": epochs, "lr": lr}
    config["seconds"] = time.perf_counter() - start
    return DirichletRegression(params, phi, activation, delta, history, config)
