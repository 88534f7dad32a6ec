"""Bad input gets a clear error that names the problem, the same in every backend."""

import importlib

import numpy as np
import pytest

import xent
from conftest import BACKENDS
from xent import InputError

X = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]])
Y = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
LABELS = np.array([2, 0])

CASES = [
    # (function, logits, second argument, pattern the message must contain)
    ("softmax_cross_entropy", X, Y[:, :2], r"same shape, got \(2, 3\) and \(2, 2\)"),
    ("softmax_cross_entropy", X, np.array([[0.2, 0.3, 0.4], Y[1]]), r"row \(0,\) sums to 0\.9"),
    ("softmax_cross_entropy", X, np.array([[1.5, -0.5, 0.0], Y[1]]), r"negative entry"),
    ("softmax_cross_entropy", X, np.where(Y > 0.4, np.nan, Y), r"targets contain NaN"),
    ("softmax_cross_entropy", X.astype(int), Y, r"floating-point array, got dtype int"),
    (
        "softmax_cross_entropy",
        np.array([[1.0, np.nan, 0.0], X[1]]),
        Y,
        r"NaN \(first at index \(0, 1\)\)",
    ),
    ("softmax_cross_entropy", np.array([[1.0, np.inf, 0.0], X[1]]), Y, r"\+inf .*inf/inf"),
    ("softmax_cross_entropy", np.array([[-np.inf] * 3, X[1]]), Y, r"row \(0,\) are all -inf"),
    (
        "sparse_softmax_cross_entropy",
        X,
        np.array([3, 0]),
        r"label 3 at index \(0,\) is out of range: there are 3 classes",
    ),
    (
        "sparse_softmax_cross_entropy",
        X,
        np.array([0, -1]),
        r"label -1 at index \(1,\) is out of range",
    ),
    ("sparse_softmax_cross_entropy", X, np.array([0.0, 1.0]), r"labels must be integers"),
    (
        "sparse_softmax_cross_entropy",
        X,
        np.array([[0], [1]]),
        r"shape of logits without the class axis",
    ),
    ("sigmoid_cross_entropy", X, Y[:1], r"same shape"),
    ("sigmoid_cross_entropy", X, np.full_like(X, 1.5), r"in \[0, 1\], got 1\.5"),
    ("sigmoid_cross_entropy", np.array([np.nan, 0.0]), np.array([0.0, 1.0]), r"logits contain NaN"),
    ("logsumexp", np.array(1.0), None, r"class axis"),
    ("softmax", np.zeros((2, 0)), None, r"no classes"),
    ("log_softmax", np.array([[np.inf, 0.0]]), None, r"\+inf"),
]


def _call(backend, name, logits, second):
    module = importlib.import_module(f"xent.{backend}")
    args = (logits,) if second is None else (logits, second)
    return getattr(module, name)(*args)


@pytest.mark.parametrize(("name", "logits", "second", "pattern"), CASES)
def test_every_backend_rejects_bad_input_with_the_same_message(name, logits, second, pattern):
    messages = []
    for backend in BACKENDS:
        with pytest.raises(InputError, match=pattern) as info:
            _call(backend, name, logits, second)
        messages.append(str(info.value))
    assert len(set(messages)) == 1, messages


def test_input_error_is_a_value_error():
    assert issubclass(xent.InputError, ValueError)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ruled_out_class_is_fine(backend):
    """-inf on a class with no target mass is a masked class, not an error: 0 * inf = 0."""
    x = np.array([[2.0, -np.inf, 0.0]])
    expected = np.log1p(np.exp(-2.0))
    soft = _call(backend, "softmax_cross_entropy", x, np.array([[1.0, 0.0, 0.0]]))
    sparse = _call(backend, "sparse_softmax_cross_entropy", x, np.array([0]))
    for value in (soft, sparse):
        np.testing.assert_allclose(np.asarray(value), [expected], rtol=1e-15)
    # ... and a target on the ruled-out class costs an infinite loss, not NaN
    assert np.isposinf(np.asarray(_call(backend, "sparse_softmax_cross_entropy", x, np.array([1]))))


@pytest.mark.parametrize("backend", BACKENDS)
def test_infinite_logits_in_sigmoid_functions(backend):
    x = np.array([np.inf, -np.inf, np.inf, -np.inf])
    y = np.array([1.0, 0.0, 0.5, 0.5])
    loss = np.asarray(_call(backend, "sigmoid_cross_entropy", x, y))
    np.testing.assert_array_equal(loss, [0.0, 0.0, np.inf, np.inf])
    np.testing.assert_array_equal(np.asarray(_call(backend, "sigmoid", x, None)), [1, 0, 1, 0])
    log_s = np.asarray(_call(backend, "log_sigmoid", x, None))
    np.testing.assert_array_equal(log_s, [0.0, -np.inf, 0.0, -np.inf])


@pytest.mark.parametrize("backend", BACKENDS)
def test_dtypes_are_kept(backend):
    for dtype in (np.float32, np.float64):
        x = X.astype(dtype)
        result = _call(backend, "softmax_cross_entropy", x, Y.astype(dtype))
        assert np.asarray(result).dtype == dtype


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_example_and_batches_of_batches(backend):
    """The class axis is the last one: a single row and extra leading axes both work."""
    single = np.asarray(_call(backend, "sparse_softmax_cross_entropy", X[0], np.array(2)))
    assert single.shape == ()
    stacked = np.stack([X, X])
    batch = np.asarray(_call(backend, "softmax_cross_entropy", stacked, np.stack([Y, Y])))
    assert batch.shape == (2, 2)
    np.testing.assert_array_equal(batch[1], batch[0])
    labels = np.asarray(
        _call(backend, "sparse_softmax_cross_entropy", stacked, np.stack([LABELS] * 2))
    )
    assert labels.shape == (2, 2)
    np.testing.assert_allclose(labels[0, 0], single)
