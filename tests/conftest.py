"""Shared strategies and helpers for the library tests."""

import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xent import reference

os.environ.setdefault("MPLBACKEND", "Agg")

# Derandomized so that CI is reproducible; the reference (mpmath) is slow-ish, so no deadline.
settings.register_profile(
    "xent",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("xent")

DTYPES = (np.float32, np.float64)
BACKENDS = ("numpy", "torch", "tensorflow")


def unit_roundoff(dtype):
    return np.finfo(dtype).eps / 2


@st.composite
def logits(draw, max_rows=4, max_classes=6, dtype=None):
    """Logits of shape (rows, classes) at a scale from 1e-3 to 1e4, in float32 or float64."""
    dtype = dtype or draw(st.sampled_from(DTYPES))
    shape = (draw(st.integers(1, max_rows)), draw(st.integers(1, max_classes)))
    scale = 10.0 ** draw(st.integers(-3, 4))
    unit = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1, 1, width=32)))
    return (unit * scale).astype(dtype)


@st.composite
def distributions(draw, x, kind=None):
    """Targets for logits x: one-hot on a random class, one-hot on the argmax, or soft."""
    n, c = x.shape
    kind = kind or draw(st.sampled_from(["random", "argmax", "soft"]))
    if kind == "random":
        labels = draw(class_labels(x))
        return np.eye(c, dtype=x.dtype)[labels]
    if kind == "argmax":
        return np.eye(c, dtype=x.dtype)[x.argmax(axis=-1)]
    weights = draw(
        hnp.arrays(np.float64, (n, c), elements=st.sampled_from([0.0, 0.1, 0.5, 1.0, 3.0]))
    )
    weights[:, draw(st.integers(0, c - 1))] += 1.0  # at least one class with mass per row
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(x.dtype)


@st.composite
def class_labels(draw, x):
    """One integer class label per row of logits x."""
    n, c = x.shape
    return np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))


@st.composite
def probabilities(draw, shape, dtype):
    """Targets in [0, 1] for element-wise (sigmoid) losses, 0 and 1 and near-1 included."""
    values = st.sampled_from([0.0, 1.0, 0.5, 0.7, 1e-3, 1 - 2.0**-20, 0.25])
    size = int(np.prod(shape))
    return np.array(draw(st.lists(values, min_size=size, max_size=size)), dtype=dtype).reshape(
        shape
    )


def to_numpy(value):
    """A backend's result as a NumPy array."""
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def finite_difference(f, x, h=1e-6):
    """Central differences of sum(f(x)) with respect to every entry of x."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step).sum() - f(x - step).sum()) / (2 * h)
    return grad


def elementwise_condition(x, f_exact, df_exact):
    """|x f'(x) / f(x)|: the relative condition number of an element-wise function."""
    f, df = reference.to_float(f_exact), reference.to_float(df_exact)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(np.abs(x * df / f), nan=0.0, posinf=np.inf)


def assert_forward_stable(computed, exact, cond, dtype, factor=4.0):
    """|computed - exact| <= factor * u * (1 + cond) * |exact|, per entry (Blanchard et al.).

    Below the smallest normal number relative accuracy is impossible (and TensorFlow flushes
    subnormals to zero), so there an absolute error of a few `tiny` is allowed instead.
    """
    computed = np.asarray(computed, dtype=np.float64)
    exact_f = reference.to_float(exact)
    u, tiny = unit_roundoff(dtype), np.finfo(dtype).tiny
    assert np.isfinite(computed).all() or not np.isfinite(exact_f).all(), (computed, exact_f)
    rel = reference.relative_error(computed, exact)
    allowed = factor * u * (1 + np.asarray(cond, dtype=np.float64))
    with np.errstate(invalid="ignore"):  # inf - inf where both are infinite: rel is 0 there
        underflow = (np.abs(exact_f) < tiny) & (np.abs(computed - exact_f) <= 4 * tiny)
    ok = (rel <= allowed) | underflow
    assert ok.all(), {
        "computed": computed[~ok],
        "exact": exact_f[~ok],
        "relative error": rel[~ok],
        "allowed": np.broadcast_to(allowed, rel.shape)[~ok],
    }
