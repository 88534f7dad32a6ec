"""Weights: sigmoid cross-entropy's `pos_weight` and the `reduce_loss` helper.

`pos_weight` q multiplies the positive term of the sigmoid cross-entropy. Its values must be
forward stable against the mpmath reference, its gradients (NumPy's derived formula, torch
autograd, TF GradientTape, finite differences) must match the reference, q = 1 must give the
unweighted loss bit for bit, and both built-ins that take a pos_weight must agree. The
minimiser of the expected weighted loss is the logit shifted by log q.

`reduce_loss(losses, weights, denominator)` must reproduce the frameworks' own reduced numbers
with each of its four denominators, and bad input must get the same error in every backend.
"""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import (
    BACKENDS,
    assert_forward_stable,
    elementwise_condition,
    logits,
    probabilities,
    unit_roundoff,
)
from xent import InputError, agreement, reference
from xent import numpy as xnp
from xent._quiet import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, which the quiet import sets up as its backend)

WEIGHT_VALUES = [0.0, 0.25, 1.0, 3.0, 50.0]


@st.composite
def pos_weights(draw, x):
    """A scalar pos_weight or one per label (the last axis), from values 0 to 50."""
    if draw(st.booleans()):
        return np.array(draw(st.sampled_from(WEIGHT_VALUES)))
    return draw(hnp.arrays(np.float64, x.shape[-1:], elements=st.sampled_from(WEIGHT_VALUES)))


def _backend(name):
    return importlib.import_module(f"xent.{name}")


def _numpy(value):
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


# --- pos_weight: values and gradients


@settings(max_examples=25)
@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_pos_weighted_values_are_forward_stable(backend, data):
    x = data.draw(logits(max_rows=3, max_classes=4))
    y = data.draw(probabilities(x.shape, x.dtype))
    q = data.draw(pos_weights(x))
    values, _ = agreement.ours(backend, "sigmoid_cross_entropy")(x, y, pos_weight=q)
    exact = reference.sigmoid_cross_entropy(x, y, pos_weight=q)
    grad = reference.sigmoid_cross_entropy_grad(x, y, pos_weight=q)
    cond = elementwise_condition(x, exact, grad)
    assert_forward_stable(values, exact, cond, x.dtype, factor=8.0)


@settings(max_examples=25)
@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_pos_weighted_gradients_match_the_reference(backend, data):
    """NumPy's derived (1 - y) sigmoid(x) - q y sigmoid(-x), torch autograd, TF tape."""
    x = data.draw(logits(max_rows=3, max_classes=4))
    y = data.draw(probabilities(x.shape, x.dtype))
    q = data.draw(pos_weights(x))
    _, grad = agreement.ours(backend, "sigmoid_cross_entropy")(x, y, pos_weight=q)
    exact = reference.to_float(reference.sigmoid_cross_entropy_grad(x, y, pos_weight=q))
    scale = np.maximum(1.0, np.broadcast_to(q, x.shape))  # the gradient is O(max(1, q))
    err = np.abs(np.asarray(grad, dtype=np.float64) - exact) / scale
    assert err.max() <= 8 * unit_roundoff(x.dtype), err


@settings(max_examples=15)
@given(data=st.data())
def test_derived_pos_weighted_gradient_matches_finite_differences(data):
    x = data.draw(logits(max_rows=3, max_classes=4, dtype=np.float64)).clip(-20, 20)
    y = data.draw(probabilities(x.shape, x.dtype))
    q = data.draw(pos_weights(x))
    h = 1e-6
    numeric = (
        xnp.sigmoid_cross_entropy(x + h, y, pos_weight=q)
        - xnp.sigmoid_cross_entropy(x - h, y, pos_weight=q)
    ) / (2 * h)
    derived = xnp.sigmoid_cross_entropy_grad(x, y, pos_weight=q)
    np.testing.assert_allclose(derived, numeric, atol=1e-7 * (1 + np.max(q)))


@settings(max_examples=20)
@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_pos_weight_one_is_the_unweighted_loss_exactly(backend, data):
    x = data.draw(logits(max_rows=3, max_classes=4))
    y = data.draw(probabilities(x.shape, x.dtype))
    plain_values, plain_grad = agreement.ours(backend, "sigmoid_cross_entropy")(x, y)
    for q in (1.0, np.ones(x.shape[-1])):
        values, grad = agreement.ours(backend, "sigmoid_cross_entropy")(x, y, pos_weight=q)
        np.testing.assert_array_equal(values, plain_values)
        np.testing.assert_array_equal(grad, plain_grad)


@settings(max_examples=20)
@given(data=st.data())
def test_pos_weighted_loss_is_non_negative_and_linear_in_the_positive_term(data):
    """loss(q) = q * loss_pos + loss_neg: loss(q) - loss(0) = q * (loss(1) - loss(0))."""
    x = data.draw(logits(max_rows=3, max_classes=4, dtype=np.float64))
    y = data.draw(probabilities(x.shape, x.dtype))
    q = data.draw(pos_weights(x))
    values = xnp.sigmoid_cross_entropy(x, y, pos_weight=q)
    assert (values >= 0).all()
    zero, one = (xnp.sigmoid_cross_entropy(x, y, pos_weight=w) for w in (0.0, 1.0))
    finite = np.isfinite(one)
    expected = zero + np.broadcast_to(q, x.shape) * (one - zero)
    np.testing.assert_allclose(values[finite], expected[finite], rtol=1e-12, atol=1e-12)


def test_infinite_logits_and_zero_weights():
    """Exact 0 and inf, no NaN: 0 * inf is 0 for a term whose weight is 0."""
    x = np.array([-np.inf, np.inf, -np.inf, np.inf])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    for backend in BACKENDS:
        module = _backend(backend)
        values = _numpy(module.sigmoid_cross_entropy(x, y, pos_weight=3.0))
        np.testing.assert_array_equal(values, [np.inf, np.inf, 0.0, 0.0])
        values = _numpy(module.sigmoid_cross_entropy(x, y, pos_weight=0.0))
        np.testing.assert_array_equal(values, [0.0, np.inf, 0.0, 0.0])


def test_float32_stays_float32():
    x = np.array([[0.5, -2.0]], dtype=np.float32)
    y = np.array([[1.0, 0.0]], dtype=np.float32)
    q = np.array([2.0, 3.0])  # float64 weights do not promote float32 logits
    assert xnp.sigmoid_cross_entropy(x, y, pos_weight=q).dtype == np.float32
    assert xnp.sigmoid_cross_entropy_grad(x, y, pos_weight=q).dtype == np.float32
    assert _backend("torch").sigmoid_cross_entropy(x, y, pos_weight=q).dtype == torch.float32
    assert _backend("tensorflow").sigmoid_cross_entropy(x, y, pos_weight=q).dtype == tf.float32
    losses = np.array([1.0, 2.0], dtype=np.float32)
    for backend in BACKENDS:
        result = _numpy(_backend(backend).reduce_loss(losses, np.array([1.0, 3.0]), "weights"))
        assert result.dtype == np.float32 and result.shape == ()


# --- pos_weight against the built-ins


def test_both_built_ins_agree_with_ours_on_multi_label_weights():
    """torch's pos_weight and tf.nn.weighted_cross_entropy_with_logits against ours.

    Ours: 1e-12 (float64) and 1e-6 (float32) relative. The built-ins compute
    (1 - y) x + (1 + (q - 1) y) (log1p(exp(-|x|)) + max(-x, 0)), which cancels for x < 0 and
    y = 0 (the loss is then tiny next to |x|): their error is a few u * (|x| + loss).
    """
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, (6, 4))
    x[0, 0] = 0.25  # no logit of exactly 0: there TF's gradient is wrong (next test)
    y = (rng.random((6, 4)) < 0.3).astype(float)
    y[1, 1] = 0.7  # a soft target too
    q = np.array([1.0, 4.0, 0.5, 19.0])
    table = agreement.compare("sigmoid_cross_entropy", x, y, pos_weight=q)
    labels = set(table.index.get_level_values("implementation"))
    # neither the plain TF op nor Keras has a pos_weight: compare leaves them out
    assert "keras BinaryCrossentropy" not in labels
    assert "tf.nn.sigmoid_cross_entropy_with_logits" not in labels
    for dtype, bound in (("float64", 1e-12), ("float32", 1e-6)):
        rows = table.loc[dtype]
        assert (rows[rows["kind"] == "ours"]["max rel"] <= bound).all()
        assert (rows["grad / u"] <= 8 * 19).all()  # O(q) gradients, a few u of q
        xd, yd = x.astype(dtype), y.astype(dtype)
        exact = reference.sigmoid_cross_entropy(xd, yd, pos_weight=q)
        loss = reference.to_float(exact)
        allowed = 8 * unit_roundoff(xd.dtype) * (np.abs(xd) + loss) / loss
        for label in (
            "F.binary_cross_entropy_with_logits",
            "tf.nn.weighted_cross_entropy_with_logits",
        ):
            values, _ = dict(agreement.BUILTINS["sigmoid_cross_entropy"])[label](
                xd, yd, pos_weight=q
            )
            assert (reference.relative_error(values, exact) <= allowed).all(), label


def test_the_weighted_tensorflow_op_cancels_where_the_plain_one_does_not():
    """x = -16, y = 0 in float32: loss = softplus(-16) = 1.1e-7; the weighted op returns 0."""
    x, y = np.array([-16.0], dtype=np.float32), np.array([0.0], dtype=np.float32)
    exact = reference.sigmoid_cross_entropy(x, y, pos_weight=3.0)
    weighted = tf.nn.weighted_cross_entropy_with_logits(labels=y, logits=x, pos_weight=3.0)
    assert weighted.numpy()[0] == 0.0
    plain = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x).numpy()
    assert reference.relative_error(plain, exact)[0] < 1e-6
    for backend in BACKENDS:
        ours = _numpy(_backend(backend).sigmoid_cross_entropy(x, y, pos_weight=3.0))
        assert reference.relative_error(ours, exact)[0] < 1e-6


def test_tensorflow_weighted_gradient_is_wrong_at_a_zero_logit():
    """weighted_cross_entropy_with_logits differentiates |x| and max(-x, 0) as 0 at x = 0."""
    x, y = np.zeros(2), np.array([0.0, 1.0])
    true = xnp.sigmoid_cross_entropy_grad(x, y, pos_weight=1.0)
    np.testing.assert_array_equal(true, [0.5, -0.5])
    q = tf.constant(1.0, tf.float64)
    _, tf_grad = agreement.run_tensorflow(
        lambda t, u: tf.nn.weighted_cross_entropy_with_logits(labels=u, logits=t, pos_weight=q),
        x,
        y,
    )
    np.testing.assert_array_equal(tf_grad, [1.0, 0.0])
    torch_grad = agreement.run_torch(
        lambda t, u: F.binary_cross_entropy_with_logits(
            t, u, reduction="none", pos_weight=torch.tensor(1.0, dtype=torch.float64)
        ),
        x,
        y,
    )[1]
    np.testing.assert_array_equal(torch_grad, true)
    for backend in ("torch", "tensorflow"):
        _, ours = agreement.ours(backend, "sigmoid_cross_entropy")(x, y, pos_weight=1.0)
        np.testing.assert_array_equal(ours, true)


# --- what pos_weight does to the minimiser


def test_expected_weighted_loss_is_minimised_by_the_shifted_logit():
    """E[loss] = q p softplus(-x) + (1 - p) softplus(x) is minimal at x = logit(p) + log q."""
    grid = np.linspace(-12, 12, 240_001)
    for p in (0.05, 0.3, 0.5, 0.9):
        for q in (0.2, 1.0, 3.0, 19.0):
            expected = p * xnp.sigmoid_cross_entropy(grid, np.ones_like(grid), pos_weight=q) + (
                1 - p
            ) * xnp.sigmoid_cross_entropy(grid, np.zeros_like(grid), pos_weight=q)
            best = grid[np.argmin(expected)]
            assert abs(best - (np.log(p / (1 - p)) + np.log(q))) < 2e-4
            # and the expected gradient vanishes there
            x_star = np.array([np.log(p / (1 - p)) + np.log(q)])
            g = p * xnp.sigmoid_cross_entropy_grad(x_star, np.ones(1), pos_weight=q) + (
                1 - p
            ) * xnp.sigmoid_cross_entropy_grad(x_star, np.zeros(1), pos_weight=q)
            assert abs(g[0]) < 1e-14 * (1 + q)


# --- reduce_loss against the frameworks' own reductions

X = np.array([[2.0, 0.5, -1.0], [0.1, 1.2, 0.3], [-0.5, 0.2, 2.5], [1.0, 1.0, 1.0]])
LABELS = np.array([0, 1, 2, 1])
CLASS_WEIGHTS = np.array([1.0, 2.0, 5.0])
MASK = np.array([1.0, 1.0, 1.0, 0.0])  # the last example is padding
SAMPLE_WEIGHTS = CLASS_WEIGHTS[LABELS] * MASK
ONEHOT = np.eye(3)[LABELS]
LOSSES = xnp.sparse_softmax_cross_entropy(X, LABELS)


def _framework_numbers():
    """(our denominator, framework's own reduced loss) for one tiny weighted batch."""
    x, w = torch.tensor(X), torch.tensor(CLASS_WEIGHTS)
    padded = torch.tensor(np.where(MASK > 0, LABELS, -100))  # torch's ignore_index
    zero_row = torch.tensor(ONEHOT * MASK[:, None])  # a padded example has no target mass
    cce = keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64")
    cce_w = keras.losses.CategoricalCrossentropy(
        from_logits=True, dtype="float64", reduction="mean_with_sample_weight"
    )
    scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    tf1 = tf.compat.v1.losses
    return [
        ("weights", F.cross_entropy(x, padded, weight=w).item()),
        ("count", F.cross_entropy(x, zero_row, weight=w).item()),
        ("sum", F.cross_entropy(x, padded, weight=w, reduction="sum").item()),
        ("count", float(cce(ONEHOT, X, sample_weight=SAMPLE_WEIGHTS))),
        ("count", float(scce(LABELS, X, sample_weight=SAMPLE_WEIGHTS))),
        ("weights", float(cce_w(ONEHOT, X, sample_weight=SAMPLE_WEIGHTS))),
        ("nonzero", float(tf1.softmax_cross_entropy(ONEHOT, X, weights=SAMPLE_WEIGHTS))),
        ("nonzero", float(tf1.sparse_softmax_cross_entropy(LABELS, X, weights=SAMPLE_WEIGHTS))),
        (
            "weights",
            float(
                tf1.softmax_cross_entropy(
                    ONEHOT, X, weights=SAMPLE_WEIGHTS, reduction=tf1.Reduction.MEAN
                )
            ),
        ),
        (
            "count",
            float(
                tf1.softmax_cross_entropy(
                    ONEHOT, X, weights=SAMPLE_WEIGHTS, reduction=tf1.Reduction.SUM_OVER_BATCH_SIZE
                )
            ),
        ),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_denominator_reproduces_the_frameworks_softmax_numbers(backend):
    reduce_loss = _backend(backend).reduce_loss
    numbers = _framework_numbers()
    assert len({round(v, 5) for _, v in numbers}) == 4  # four different answers
    for denominator, theirs in numbers:
        ours = float(_numpy(reduce_loss(LOSSES, SAMPLE_WEIGHTS, denominator)))
        # tf.compat.v1.losses reduces in float32 even for float64 inputs
        assert ours == pytest.approx(theirs, rel=1e-6), (denominator, ours, theirs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_denominator_reproduces_the_frameworks_sigmoid_numbers(backend):
    """Element-wise losses (N, C) with per-example weights (N, 1), and with a pos_weight."""
    reduce_loss = _backend(backend).reduce_loss
    y = ONEHOT
    w = SAMPLE_WEIGHTS[:, None]
    losses = xnp.sigmoid_cross_entropy(X, y)
    bce = keras.losses.BinaryCrossentropy(from_logits=True, dtype="float64")
    bce_w = keras.losses.BinaryCrossentropy(
        from_logits=True, dtype="float64", reduction="mean_with_sample_weight"
    )
    x_t, y_t, w_t = torch.tensor(X), torch.tensor(y), torch.tensor(w)
    numbers = [
        ("count", F.binary_cross_entropy_with_logits(x_t, y_t, weight=w_t).item()),
        ("count", float(bce(y, X, sample_weight=SAMPLE_WEIGHTS))),
        ("weights", float(bce_w(y, X, sample_weight=SAMPLE_WEIGHTS))),
        ("nonzero", float(tf.compat.v1.losses.sigmoid_cross_entropy(y, X, weights=w))),
    ]
    for denominator, theirs in numbers:
        ours = float(_numpy(reduce_loss(losses, w, denominator)))
        assert ours == pytest.approx(theirs, rel=1e-6), (denominator, ours, theirs)
    q = np.array([1.0, 4.0, 0.5])
    weighted = xnp.sigmoid_cross_entropy(X, y, pos_weight=q)
    theirs = F.binary_cross_entropy_with_logits(x_t, y_t, pos_weight=torch.tensor(q)).item()
    assert float(_numpy(reduce_loss(weighted))) == pytest.approx(theirs, rel=1e-12)


def test_torch_weighted_mean_cancels_the_weight_at_batch_size_one():
    x, label = torch.tensor(X[:1]), torch.tensor(LABELS[:1])
    for w in ([1.0, 2.0, 5.0], [100.0, 2.0, 5.0]):
        value = F.cross_entropy(x, label, weight=torch.tensor(w, dtype=torch.float64)).item()
        assert value == pytest.approx(LOSSES[0], rel=1e-14)
        ours = xnp.reduce_loss(LOSSES[:1], np.array(w)[LABELS[:1]], "weights")
        assert float(ours) == pytest.approx(LOSSES[0], rel=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reduce_loss_edge_cases(backend):
    reduce_loss = _backend(backend).reduce_loss
    losses = np.array([1.0, np.inf, 3.0])
    w = np.array([2.0, 0.0, 1.0])  # a zero weight leaves even an infinite loss out
    assert float(_numpy(reduce_loss(losses, w, "sum"))) == 5.0
    assert float(_numpy(reduce_loss(losses, w, "count"))) == pytest.approx(5 / 3, rel=1e-15)
    assert float(_numpy(reduce_loss(losses, w, "weights"))) == pytest.approx(5 / 3, rel=1e-15)
    assert float(_numpy(reduce_loss(losses, w, "nonzero"))) == 2.5
    for denominator in ("count", "weights", "nonzero", "sum"):  # all weights 0: 0, not NaN
        assert float(_numpy(reduce_loss(losses, np.zeros(3), denominator))) == 0.0
        assert float(_numpy(reduce_loss(np.zeros(0), None, denominator))) == 0.0
    plain = np.array([1.0, 2.0, 6.0])
    assert float(_numpy(reduce_loss(plain))) == 3.0  # no weights: the plain mean
    assert float(_numpy(reduce_loss(plain, 2.0, "weights"))) == 3.0  # a scalar weight cancels


def test_reduce_loss_has_the_weighted_gradient():
    losses = np.array([1.0, 2.0, 4.0])
    w = np.array([1.0, 0.0, 3.0])
    lt = torch.tensor(losses, requires_grad=True)
    _backend("torch").reduce_loss(lt, w, "weights").backward()
    np.testing.assert_allclose(lt.grad.numpy(), w / w.sum(), rtol=1e-15)
    lf = tf.constant(losses)
    with tf.GradientTape() as tape:
        tape.watch(lf)
        total = _backend("tensorflow").reduce_loss(lf, w, "nonzero")
    np.testing.assert_allclose(tape.gradient(total, lf).numpy(), w / 2, rtol=1e-15)


# --- bad input: the same message in every backend

X2 = np.array([[0.5, -1.0, 2.0], [0.0, 3.0, -2.0]])
Y2 = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])

BAD_POS_WEIGHTS = [
    (-1.0, r"pos_weight must be >= 0, got -1 at index \(\)"),
    (np.array([1.0, -2.0, 3.0]), r"pos_weight must be >= 0, got -2 at index \(1,\)"),
    (np.array([1.0, np.nan, 3.0]), r"pos_weight contain NaN \(first at index \(1,\)\)"),
    (np.inf, r"pos_weight must be finite"),
    (np.array([1.0, 2.0]), r"pos_weight of shape \(2,\) does not broadcast to the logits"),
    (np.ones((3, 3)), r"pos_weight of shape \(3, 3\) does not broadcast"),
    (np.array([1 + 2j, 0, 1]), r"pos_weight must be real numbers, got dtype complex128"),
]


@pytest.mark.parametrize(("pos_weight", "pattern"), BAD_POS_WEIGHTS)
def test_bad_pos_weight_gets_the_same_error_everywhere(pos_weight, pattern):
    messages = []
    for backend in BACKENDS:
        with pytest.raises(InputError, match=pattern) as info:
            _backend(backend).sigmoid_cross_entropy(X2, Y2, pos_weight=pos_weight)
        messages.append(str(info.value))
    with pytest.raises(InputError, match=pattern):
        xnp.sigmoid_cross_entropy_grad(X2, Y2, pos_weight=pos_weight)
    assert len(set(messages)) == 1, messages


BAD_REDUCTIONS = [
    (np.ones(3), np.array([1.0, -1.0, 0.0]), "count", r"weights must be >= 0, got -1"),
    (np.ones(3), np.ones(2), "count", r"weights of shape \(2,\) does not broadcast"),
    (np.ones(3), np.array([1.0, np.nan, 0.0]), "weights", r"weights contain NaN"),
    (np.ones(3), np.array([1.0, np.inf, 0.0]), "weights", r"weights must be finite"),
    (np.ones(3), None, "mean", r"denominator must be one of 'count', 'weights'"),
    (np.array([1, 2, 3]), None, "count", r"losses must be a floating-point array"),
    (np.array([1.0, np.nan]), None, "sum", r"losses contain NaN"),
]


@pytest.mark.parametrize(("losses", "weights", "denominator", "pattern"), BAD_REDUCTIONS)
def test_bad_reduction_input_gets_the_same_error_everywhere(losses, weights, denominator, pattern):
    messages = []
    for backend in BACKENDS:
        with pytest.raises(InputError, match=pattern) as info:
            _backend(backend).reduce_loss(losses, weights, denominator)
        messages.append(str(info.value))
    assert len(set(messages)) == 1, messages


@st.composite
def losses_and_weights(draw):
    """Finite losses >= 0 of shape (N,) or (N, C), and weights of the same shape, zeros included."""
    shape = draw(st.sampled_from([(1,), (5,), (4, 3)]))
    losses = draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 50)))
    weights = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from(WEIGHT_VALUES)))
    return losses, weights


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40)
@given(losses_and_weights(), st.sampled_from([0.5, 3.0, 1024.0]))
def test_reduce_loss_is_its_definition(backend, data, scale):
    """Each denominator as defined, the weighted mean blind to the weights' scale, and every
    backend equal to the definition written out in NumPy (float64, to a few roundings)."""
    losses, w = data
    reduce_loss = _backend(backend).reduce_loss
    total = float(np.sum(w * losses))
    expected = {
        "sum": total,
        "count": total / losses.size,
        "weights": total / w.sum() if w.sum() > 0 else 0.0,
        "nonzero": total / np.count_nonzero(w) if np.count_nonzero(w) else 0.0,
    }
    for denominator, value in expected.items():
        ours = float(_numpy(reduce_loss(losses, w, denominator)))
        assert ours == pytest.approx(value, rel=1e-12, abs=0), denominator
    # scaling every weight by c: the weighted mean stays, every other reduction scales by c
    for denominator, factor in [
        ("weights", 1),
        ("count", scale),
        ("nonzero", scale),
        ("sum", scale),
    ]:
        ours = float(_numpy(reduce_loss(losses, w, denominator)))
        scaled = float(_numpy(reduce_loss(losses, scale * w, denominator)))
        assert scaled == pytest.approx(factor * ours, rel=1e-12, abs=0), denominator
    # no weights means weights of 1: "count" and "weights" are both the plain mean
    plain = float(np.mean(losses))
    assert float(_numpy(reduce_loss(losses))) == pytest.approx(plain, rel=1e-12, abs=0)
    assert float(_numpy(reduce_loss(losses, None, "weights"))) == pytest.approx(plain, rel=1e-12)
