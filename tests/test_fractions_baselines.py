"""xent.fractions.baselines: log-ratio transforms, zero replacement, Dirichlet, the two fits."""

import math

import numpy as np
import pytest

from xent import InputError
from xent.fractions import baselines as bl


def _compositions(n=20, parts=5, seed=0):
    return np.random.default_rng(seed).dirichlet(np.full(parts, 0.7), size=n)


# --- transforms


@pytest.mark.parametrize("parts", [2, 3, 6])
def test_transforms_round_trip(parts):
    y = _compositions(parts=parts)
    np.testing.assert_allclose(bl.alr_inv(bl.alr(y)), y, rtol=1e-12)
    np.testing.assert_allclose(bl.alr_inv(bl.alr(y, reference=0), reference=0), y, rtol=1e-12)
    np.testing.assert_allclose(bl.clr_inv(bl.clr(y)), y, rtol=1e-12)
    np.testing.assert_allclose(bl.ilr_inv(bl.ilr(y)), y, rtol=1e-12)
    assert bl.alr(y).shape == bl.ilr(y).shape == (len(y), parts - 1)
    np.testing.assert_allclose(bl.clr(y).sum(axis=1), 0, atol=1e-12)


def test_alr_is_the_log_ratio_to_the_reference_part():
    y = np.array([[0.5, 0.3, 0.2]])
    np.testing.assert_allclose(bl.alr(y), [[math.log(2.5), math.log(1.5)]])
    np.testing.assert_allclose(bl.alr(y, reference=0), [[math.log(0.6), math.log(0.4)]])
    with pytest.raises(ValueError, match="out of range"):
        bl.alr(y, reference=3)


def test_ilr_basis_is_orthonormal_and_orthogonal_to_ones():
    for parts in (2, 4, 7):
        v = bl.ilr_basis(parts)
        np.testing.assert_allclose(v.T @ v, np.eye(parts - 1), atol=1e-14)
        np.testing.assert_allclose(v.sum(axis=0), 0, atol=1e-14)
    with pytest.raises(ValueError, match="n_parts"):
        bl.ilr_basis(1)


def test_ilr_is_an_isometry_for_the_aitchison_distance():
    a, b = _compositions(seed=1), _compositions(seed=2)
    euclid = np.linalg.norm(bl.ilr(a) - bl.ilr(b), axis=1)
    np.testing.assert_allclose(euclid, bl.aitchison_distance(a, b), rtol=1e-12)
    # the Aitchison distance ignores scale: it only sees ratios
    np.testing.assert_allclose(bl.aitchison_distance(a, a), 0, atol=1e-12)
    # ... and ALR is not an isometry
    alr_dist = np.linalg.norm(bl.alr(a) - bl.alr(b), axis=1)
    assert np.abs(alr_dist - euclid).max() > 0.1


@pytest.mark.parametrize("fn", [bl.alr, bl.clr, bl.ilr, bl.aitchison_distance])
def test_zeros_are_refused_with_a_clear_message(fn):
    y = _compositions(n=4)
    y[2, 1] = 0.0
    y /= y.sum(axis=1, keepdims=True)
    args = (y, y) if fn is bl.aitchison_distance else (y,)
    with pytest.raises(InputError, match=r"zero part \(first at index \(2, 1\).*multiplicative"):
        fn(*args)


def test_what_is_not_fractions_is_refused():
    with pytest.raises(InputError, match="summing to 1"):
        bl.clr(np.array([[0.5, 0.6]]))
    with pytest.raises(InputError, match="negative"):
        bl.ilr(np.array([[1.5, -0.5]]))


# --- zero replacement


def test_multiplicative_replacement_keeps_sums_and_ratios():
    y = _compositions(n=30, parts=6, seed=3)
    y[y < 0.05] = 0.0
    y /= y.sum(axis=1, keepdims=True)
    assert (y == 0).any(axis=1).sum() > 10
    r = bl.multiplicative_replacement(y, 1e-3)
    np.testing.assert_allclose(r.sum(axis=1), 1, atol=1e-14)
    assert (r[y == 0] == 1e-3).all() and (r > 0).all()
    for row, new in zip(y, r, strict=True):
        kept = row > 0
        ratios = row[kept][:, None] / row[kept][None, :]
        np.testing.assert_allclose(new[kept][:, None] / new[kept][None, :], ratios, rtol=1e-12)
    full = _compositions(n=5, parts=6)
    np.testing.assert_array_equal(bl.multiplicative_replacement(full, 1e-3), full)


def test_multiplicative_replacement_refuses_bad_delta():
    y = np.array([[0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="positive"):
        bl.multiplicative_replacement(y, 0.0)
    with pytest.raises(ValueError, match="too large"):
        bl.multiplicative_replacement(y, 0.5)


# --- special functions and the Dirichlet likelihood


def test_lgamma_and_digamma():
    x = np.array([1e-6, 0.01, 0.3, 1.0, 2.5, 9.99, 10.0, 33.0, 1e4, 1e9])
    np.testing.assert_allclose(bl.lgamma(x), [math.lgamma(v) for v in x], rtol=1e-13, atol=1e-13)
    h = 1e-5 * x
    fd = (np.array([math.lgamma(v) for v in x + h]) - np.array([math.lgamma(v) for v in x - h])) / (
        2 * h
    )
    np.testing.assert_allclose(bl.digamma(x), fd, rtol=1e-7, atol=1e-7)
    assert bl.digamma(np.array([1.0]))[0] == pytest.approx(-0.5772156649015329, abs=1e-13)
    with pytest.raises(ValueError, match="x > 0"):
        bl.lgamma(np.array([0.0]))


def test_dirichlet_nll_matches_the_closed_form():
    logits = np.array([[0.2, -0.4, 1.0]])
    y = np.array([[0.2, 0.5, 0.3]])
    phi = 4.0
    p = np.exp(logits[0]) / np.exp(logits[0]).sum()
    alpha = phi * p
    log_density = (
        math.lgamma(phi)
        - sum(math.lgamma(a) for a in alpha)
        + sum((a - 1) * math.log(v) for a, v in zip(alpha, y[0], strict=True))
    )
    assert bl.dirichlet_nll(logits, y, phi)[0] == pytest.approx(-log_density, rel=1e-13)
    # a uniform Dirichlet (alpha = 1) has density Gamma(D) everywhere
    flat = bl.dirichlet_nll(np.zeros((1, 3)), y, 3.0)[0]
    assert flat == pytest.approx(-math.log(2.0), rel=1e-13)


def test_dirichlet_nll_agrees_with_torch_and_its_gradient_with_finite_differences():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    logits, y = rng.normal(size=(4, 5)), _compositions(n=4, seed=6)
    phi = np.array([0.5, 3.0, 20.0, 100.0])
    alpha = torch.from_numpy(phi[:, None] * np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
    expected = -torch.distributions.Dirichlet(alpha).log_prob(torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(bl.dirichlet_nll(logits, y, phi), expected, rtol=1e-12)
    g_z, g_phi = bl.dirichlet_nll_grad(logits, y, phi)
    h = 1e-6
    for k in range(5):
        e = np.zeros(5)
        e[k] = h
        fd = (bl.dirichlet_nll(logits + e, y, phi) - bl.dirichlet_nll(logits - e, y, phi)) / (2 * h)
        np.testing.assert_allclose(g_z[:, k], fd, rtol=1e-6, atol=1e-7)
    fd_phi = (bl.dirichlet_nll(logits, y, phi + h) - bl.dirichlet_nll(logits, y, phi - h)) / (2 * h)
    np.testing.assert_allclose(g_phi, fd_phi, rtol=1e-6, atol=1e-7)


def test_dirichlet_refuses_zeros():
    y = np.array([[0.0, 0.4, 0.6]])
    with pytest.raises(InputError, match="log"):
        bl.dirichlet_nll(np.zeros((1, 3)), y, 2.0)


# --- the fits


def _constant_problem(n=400, seed=7):
    rng = np.random.default_rng(seed)
    y = rng.multinomial(50, [0.6, 0.25, 0.1, 0.05], size=n) / 50
    return np.zeros((n, 1)), y


@pytest.mark.parametrize("transform", ["ilr", "alr"])
def test_log_ratio_regression_learns_the_geometric_centre(transform):
    """With constant features the best prediction is the mean of the coordinates."""
    x, y = _constant_problem()
    model = bl.fit_log_ratio(
        x, y, transform, delta=0.01, hidden=(), epochs=300, batch_size=len(x), lr=0.05
    )
    r = bl.multiplicative_replacement(y, 0.01)
    centre = bl.closure(np.exp(np.log(r).mean(axis=0)))
    np.testing.assert_allclose(model.predict(x[:1])[0], centre, rtol=1e-6)
    assert model.history["loss"][-1] < model.history["loss"][0]
    assert abs(model.predict(x[:1])[0, 3] - y[:, 3].mean()) > 0.005  # not the mean


def test_dirichlet_regression_matches_the_log_moments():
    """At the maximum: psi(phi p_k) - psi(phi) = mean log y_k for every k."""
    x, y = _constant_problem()
    model = bl.fit_dirichlet(x, y, delta=0.01, hidden=(), epochs=400, batch_size=len(x), lr=0.05)
    p, phi = model.predict(x[:1])[0], model.precision
    r = bl.multiplicative_replacement(y, 0.01)
    lhs = bl.digamma(phi * p) - bl.digamma(np.array([phi]))
    np.testing.assert_allclose(lhs, np.log(r).mean(axis=0), atol=1e-5)
    fixed = bl.fit_dirichlet(x, y, delta=0.01, precision=7.0, hidden=(), epochs=2)
    assert fixed.precision == pytest.approx(7.0)


def test_fits_need_zero_replacement_and_good_options():
    x, y = _constant_problem(n=50)
    assert (y == 0).any()
    with pytest.raises(InputError, match="zero part"):
        bl.fit_log_ratio(x, y)
    with pytest.raises(InputError, match="zero part"):
        bl.fit_dirichlet(x, y)
    with pytest.raises(ValueError, match="unknown transform"):
        bl.fit_log_ratio(x, y, "clr", delta=0.01)
    with pytest.raises(ValueError, match="epochs"):
        bl.fit_log_ratio(x, y, delta=0.01, epochs=0)
    with pytest.raises(InputError, match="rows"):
        bl.fit_dirichlet(x[:3], y, delta=0.01)


def test_mlp_fits_run_and_predict_fractions():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(300, 3))
    logits = np.column_stack([x[:, 0], -x[:, 1], np.zeros(300), x[:, 2] - 1])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.multinomial(40, p) / 40
    for model in (
        bl.fit_log_ratio(x, y, delta=0.01, epochs=3, hidden=(8,)),
        bl.fit_dirichlet(x, y, delta=0.01, epochs=3, hidden=(8,)),
    ):
        pred = model.predict(x)
        assert pred.shape == y.shape
        np.testing.assert_allclose(pred.sum(axis=1), 1, atol=1e-12)
        assert len(model.history["loss"]) == 3
    with pytest.raises(InputError, match="3 columns"):
        model.predict(x[:, :2])
