"""The mpmath reference against values known in closed form, and the error measures."""

import math

import mpmath
import numpy as np
import pytest

from xent import reference


def test_closed_forms():
    assert float(reference.logsumexp(np.array([0.0, 0.0]))) == pytest.approx(math.log(2), rel=1e-15)
    assert float(reference.sigmoid(np.array(0.0))) == 0.5
    p = reference.to_float(reference.softmax(np.array([3.0, 4.0])))
    np.testing.assert_allclose(p, [1 / (1 + math.e), math.e / (1 + math.e)], rtol=1e-15)
    # a perfect prediction of 0.7 for a target of 0.7 costs the entropy H(0.7), not 0
    h = -(0.7 * math.log(0.7) + 0.3 * math.log(0.3))
    loss = reference.sigmoid_cross_entropy(np.array(math.log(0.7 / 0.3)), np.array(0.7))
    assert float(loss) == pytest.approx(h, rel=1e-15)
    assert round(h, 3) == 0.611


def test_tiny_loss_is_not_lost_in_the_reference():
    """log1p(exp(-1000)) = exp(-1000) - ...: the reference must not round 1 + s to 1."""
    loss = reference.sparse_softmax_cross_entropy(np.array([1000.0, 0.0]), np.array(0))
    assert mpmath.almosteq(loss.item(), mpmath.exp(-1000), rel_eps=mpmath.mpf(10) ** -50)


def test_gradients_are_the_textbook_formulas():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.2, 0.3, 0.5])
    p = reference.to_float(reference.softmax(x))
    np.testing.assert_allclose(
        reference.to_float(reference.softmax_cross_entropy_grad(x, y)), p - y, atol=1e-16
    )
    np.testing.assert_allclose(
        reference.to_float(reference.sparse_softmax_cross_entropy_grad(x, np.array(1))),
        p - [0, 1, 0],
        atol=1e-16,
    )


def test_condition_numbers():
    # lse of nonnegative logits has condition <= 1; a confident correct row has kappa ~ max|x|
    assert reference.condition_logsumexp(np.array([1.0, 2.0, 3.0])) <= 1
    kappa = reference.condition_sparse_softmax_cross_entropy(np.array([40.0, 0.0]), np.array(0))
    assert kappa == pytest.approx(40, rel=1e-12)
    assert reference.condition_logsumexp(np.array([0.0])) == 0  # lse = 0 exactly, nothing to lose


def test_ulp_and_relative_error():
    assert reference.ulp(np.array([mpmath.mpf(1)]), np.float64)[0] == mpmath.mpf(2) ** -52
    assert reference.ulp(np.array([mpmath.mpf(1)]), np.float32)[0] == mpmath.mpf(2) ** -23
    one = np.array([mpmath.mpf(1)], dtype=object)
    assert reference.ulp_error(np.array([1 + 2.0**-52]), one)[0] == 1.0
    assert reference.ulp_error(np.array([1.0], dtype=np.float32), one)[0] == 0.0
    assert reference.relative_error(np.array([1.5]), one)[0] == 0.5
    assert np.isnan(reference.relative_error(np.array([np.nan]), one)[0])
    assert reference.relative_error(np.array([np.inf]), one)[0] == np.inf
    # below the normal range the spacing is the subnormal one
    assert reference.ulp(np.array([mpmath.mpf(0)]), np.float64)[0] == mpmath.mpf(2) ** -1074
