"""Our three backends against the mpmath reference: values and gradients, float32 and float64.

Values must be forward stable (Blanchard, Higham & Higham 2021): relative error within a small
multiple of u * (1 + condition number), on ordinary rows, soft targets, logits up to 1e4 and
tiny losses alike. Gradients (NumPy's derived formulas, torch autograd, TF GradientTape) must
match the reference gradient to a few u, and NumPy's derived ones must match finite differences.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import (
    BACKENDS,
    assert_forward_stable,
    class_labels,
    distributions,
    elementwise_condition,
    finite_difference,
    logits,
    probabilities,
    unit_roundoff,
)
from xent import agreement, reference

GRADIENT_TOLERANCE_IN_U = 8  # |computed - exact| of an O(1) gradient, in units of roundoff


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_softmax_cross_entropy_is_forward_stable(backend, data):
    x = data.draw(logits())
    y = data.draw(distributions(x))
    values, _ = agreement.ours(backend, "softmax_cross_entropy")(x, y)
    exact = reference.softmax_cross_entropy(x, y)
    assert_forward_stable(values, exact, reference.condition_softmax_cross_entropy(x, y), x.dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_sparse_softmax_cross_entropy_is_forward_stable(backend, data):
    x = data.draw(logits())
    labels = data.draw(class_labels(x))
    values, _ = agreement.ours(backend, "sparse_softmax_cross_entropy")(x, labels)
    exact = reference.sparse_softmax_cross_entropy(x, labels)
    cond = reference.condition_sparse_softmax_cross_entropy(x, labels)
    assert_forward_stable(values, exact, cond, x.dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("label_dtype", ["int64", "int32", "int16", "uint8"])
def test_sparse_labels_of_every_integer_dtype(backend, label_dtype):
    """tf.gather refuses uint8 and int16 indices; our functions take any integer labels."""
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])
    labels = np.array([2, 0])
    values, _ = agreement.ours(backend, "sparse_softmax_cross_entropy")(
        x, labels.astype(label_dtype)
    )
    expected = reference.to_float(reference.sparse_softmax_cross_entropy(x, labels))
    np.testing.assert_allclose(values, expected, rtol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(gap=st.floats(0, 1))
def test_tiny_losses_keep_their_digits(backend, dtype, gap):
    """The true class dominates: loss = log1p(exp(-d)) ~ exp(-d), down to the smallest normals.

    The textbook log(sum(exp(x - a))) - (x_y - a) returns 0 here once the loss is below u.
    """
    d = gap * (80 if dtype == np.float32 else 700)
    x = np.array([[d, 0.0, -d / 2], [d / 3, -d, 0.0]], dtype=dtype)
    labels = np.array([0, 0])
    values, _ = agreement.ours(backend, "sparse_softmax_cross_entropy")(x, labels)
    exact = reference.sparse_softmax_cross_entropy(x, labels)
    cond = reference.condition_sparse_softmax_cross_entropy(x, labels)
    assert_forward_stable(values, exact, cond, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@given(x=logits())
def test_logsumexp_is_forward_stable(backend, x):
    values, _ = agreement.ours(backend, "logsumexp")(x)
    exact = reference.logsumexp(x)
    assert_forward_stable(values, exact, reference.condition_logsumexp(x), x.dtype)


def _entrywise_log_softmax_condition(x):
    """Entry j of log_softmax(x) is minus the cross-entropy of x against one-hot j."""
    n, c = x.shape
    rows = np.repeat(x, c, axis=0)
    onehots = np.tile(np.eye(c), (n, 1))
    return reference.condition_softmax_cross_entropy(rows, onehots).reshape(n, c)


@pytest.mark.parametrize("backend", BACKENDS)
@given(x=logits())
def test_log_softmax_and_softmax_are_forward_stable(backend, x):
    log_p, _ = agreement.ours(backend, "log_softmax")(x)
    p, _ = agreement.ours(backend, "softmax")(x)
    exact_log_p = reference.log_softmax(x)
    cond_log = _entrywise_log_softmax_condition(x)
    assert_forward_stable(log_p, exact_log_p, cond_log, x.dtype)
    # d log p_j = (relative change of p_j): the condition of p_j is |log p_j| times that of log p_j
    cond_p = cond_log * np.abs(reference.to_float(exact_log_p))
    assert_forward_stable(p, reference.softmax(x), np.nan_to_num(cond_p, nan=0.0), x.dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@given(x=logits(max_rows=3, max_classes=4))
def test_sigmoid_and_log_sigmoid_are_forward_stable(backend, x):
    s, _ = agreement.ours(backend, "sigmoid")(x)
    exact_s = reference.sigmoid(x)
    exact_s_neg = reference.sigmoid(-x)  # sigmoid' = s(1 - s) = s * sigmoid(-x)
    cond_s = np.abs(x) * reference.to_float(exact_s_neg)
    assert_forward_stable(s, exact_s, cond_s, x.dtype)
    ls, _ = agreement.ours(backend, "log_sigmoid")(x)
    exact_ls = reference.log_sigmoid(x)
    assert_forward_stable(ls, exact_ls, elementwise_condition(x, exact_ls, exact_s_neg), x.dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_sigmoid_cross_entropy_is_forward_stable(backend, data):
    x = data.draw(logits(max_rows=3, max_classes=4))
    y = data.draw(probabilities(x.shape, x.dtype))
    values, _ = agreement.ours(backend, "sigmoid_cross_entropy")(x, y)
    exact = reference.sigmoid_cross_entropy(x, y)
    grad = reference.sigmoid_cross_entropy_grad(x, y)
    assert_forward_stable(values, exact, elementwise_condition(x, exact, grad), x.dtype)


# --- gradients


def _assert_gradient_close(grad, exact_grad, dtype):
    err = np.abs(np.asarray(grad, dtype=np.float64) - reference.to_float(exact_grad))
    assert err.max(initial=0) <= GRADIENT_TOLERANCE_IN_U * unit_roundoff(dtype), err


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_gradients_match_the_reference(backend, data):
    """NumPy's derived gradients, torch autograd and TF GradientTape, one loss at a time."""
    x = data.draw(logits())
    y = data.draw(distributions(x))
    labels = data.draw(class_labels(x))
    probs = data.draw(probabilities(x.shape, x.dtype))
    cases = [
        ("softmax_cross_entropy", y, reference.softmax_cross_entropy_grad),
        ("sparse_softmax_cross_entropy", labels, reference.sparse_softmax_cross_entropy_grad),
        ("sigmoid_cross_entropy", probs, reference.sigmoid_cross_entropy_grad),
    ]
    for name, second, exact_grad in cases:
        _, grad = agreement.ours(backend, name)(x, second)
        _assert_gradient_close(grad, exact_grad(x, second), x.dtype)
    _, grad = agreement.ours(backend, "logsumexp")(x)
    _assert_gradient_close(grad, reference.softmax(x), x.dtype)


@given(data=st.data())
def test_derived_gradients_match_finite_differences(data):
    """Independent of the reference: the chapter's formulas against central differences."""
    import xent.numpy as xnp

    x = data.draw(logits(max_rows=3, max_classes=4, dtype=np.float64)).clip(-20, 20)
    y = data.draw(distributions(x))
    labels = data.draw(class_labels(x))
    probs = data.draw(probabilities(x.shape, x.dtype))
    for loss, grad, second in [
        (xnp.softmax_cross_entropy, xnp.softmax_cross_entropy_grad, y),
        (xnp.sparse_softmax_cross_entropy, xnp.sparse_softmax_cross_entropy_grad, labels),
        (xnp.sigmoid_cross_entropy, xnp.sigmoid_cross_entropy_grad, probs),
    ]:
        numeric = finite_difference(lambda z, loss=loss, second=second: loss(z, second), x)
        np.testing.assert_allclose(grad(x, second), numeric, atol=1e-7)


def test_soft_target_gradient_is_p_times_sum_minus_y():
    """A row that misses 1 (within the tolerance) has gradient p * sum(y) - y, not p - y."""
    import xent.numpy as xnp

    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    y = np.array([[0.1, 0.2, 0.7 - 1e-4]], dtype=np.float32)  # sums to 1 - 1e-4
    grad = xnp.softmax_cross_entropy_grad(x, y)
    exact = reference.softmax_cross_entropy_grad(x, y)
    _assert_gradient_close(grad, exact, np.float32)
    p_minus_y = reference.to_float(reference.softmax(x)) - y.astype(np.float64)
    assert np.abs(p_minus_y - reference.to_float(exact)).max() > 1e-5
