"""Label smoothing, the focal losses and poly-1: values, gradients, invariances, bad input.

Values must be forward stable: relative error within a small multiple of u * (1 + cond), where
cond = sum_i |x_i| |dL/dx_i| / L is the loss's sensitivity to relative changes of the logits
(computed from the reference gradient), plus a few u per factor for the focal exponent.
"""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import (
    BACKENDS,
    assert_forward_stable,
    distributions,
    finite_difference,
    logits,
    probabilities,
    to_numpy,
    unit_roundoff,
)
from xent import InputError, agreement, reference
from xent._quiet import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow)

GAMMAS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0])
LOSSES = ("sigmoid_focal_loss", "softmax_focal_loss", "poly1_cross_entropy")


def _module(backend):
    return importlib.import_module(f"xent.{backend}")


def _condition(x, loss_exact, grad_exact):
    """sum_i |x_i| |g_i| / |L| per row (or per element when the loss is element-wise)."""
    x, g = np.asarray(x, dtype=np.float64), reference.to_float(grad_exact)
    loss = np.abs(reference.to_float(loss_exact))
    weight = np.abs(np.where(np.isfinite(x), x, 0) * g)
    if weight.shape != loss.shape:
        weight = weight.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(weight / loss, nan=0.0, posinf=np.inf)


def _alpha(draw, n_classes=None):
    kind = draw(st.sampled_from(["none", "scalar", "per class"] if n_classes else ["none", "s"]))
    if kind == "none":
        return None
    if kind == "per class":
        return np.array(
            draw(
                st.lists(
                    st.sampled_from([0.0, 0.25, 0.5, 1.0]), min_size=n_classes, max_size=n_classes
                )
            )
        )
    return draw(st.sampled_from([0.0, 0.25, 0.75, 1.0]))


# --- values against the reference


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_softmax_focal_loss_is_forward_stable(backend, data):
    x = data.draw(logits())
    y = data.draw(distributions(x))
    gamma, alpha = data.draw(GAMMAS), _alpha(data.draw, x.shape[-1])
    values, _ = agreement.ours(backend, "softmax_focal_loss")(x, y, gamma=gamma, alpha=alpha)
    exact = reference.softmax_focal_loss(x, y, gamma=gamma, alpha=alpha)
    cond = _condition(x, exact, reference.softmax_focal_loss_grad(x, y, gamma=gamma, alpha=alpha))
    assert_forward_stable(values, exact, cond, x.dtype, factor=4.0 * (x.shape[-1] + gamma + 1))


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_poly1_is_forward_stable(backend, data):
    x = data.draw(logits())
    y = data.draw(distributions(x))
    epsilon = data.draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
    values, _ = agreement.ours(backend, "poly1_cross_entropy")(x, y, epsilon=epsilon)
    exact = reference.poly1_cross_entropy(x, y, epsilon=epsilon)
    cond = _condition(x, exact, reference.poly1_cross_entropy_grad(x, y, epsilon=epsilon))
    assert_forward_stable(values, exact, cond, x.dtype, factor=4.0 * (x.shape[-1] + 1))


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_sigmoid_focal_loss_is_forward_stable(backend, data):
    x = data.draw(logits(max_rows=3, max_classes=4))
    y = data.draw(probabilities(x.shape, x.dtype))
    gamma, alpha = data.draw(GAMMAS), _alpha(data.draw)
    values, _ = agreement.ours(backend, "sigmoid_focal_loss")(x, y, gamma=gamma, alpha=alpha)
    exact = reference.sigmoid_focal_loss(x, y, gamma=gamma, alpha=alpha)
    cond = _condition(x, exact, reference.sigmoid_focal_loss_grad(x, y, gamma=gamma, alpha=alpha))
    assert_forward_stable(values, exact, cond, x.dtype, factor=4.0 * (gamma + 3))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiny_losses_keep_their_digits(backend, dtype):
    """Confident, correct predictions: ours keep the tiny losses the compositions round to 0."""
    d = np.array([10.0, 20.0, 40.0, 80.0]) if dtype == np.float32 else np.array([20, 40, 200.0])
    x = np.stack([d, np.zeros_like(d), -d / 2], axis=-1).astype(dtype)
    y = np.eye(3, dtype=dtype)[np.zeros(len(d), dtype=int)]
    tiny = np.finfo(dtype).tiny
    for name, options in [
        ("softmax_focal_loss", {"gamma": 2.0}),
        ("softmax_focal_loss", {"gamma": 0.5, "alpha": 0.25}),
        ("poly1_cross_entropy", {"epsilon": 1.0}),
    ]:
        values, _ = agreement.ours(backend, name)(x, y, **options)
        exact = getattr(reference, name)(x, y, **options)
        exact_f = reference.to_float(exact)
        rel = reference.relative_error(values, exact)
        assert ((rel <= 16 * unit_roundoff(dtype)) | (exact_f < tiny)).all(), (name, rel)
    xs, ys = d.astype(dtype), np.ones(len(d), dtype=dtype)
    values, _ = agreement.ours(backend, "sigmoid_focal_loss")(xs, ys, gamma=2.0)
    exact = reference.sigmoid_focal_loss(xs, ys, gamma=2.0)
    rel = reference.relative_error(values, exact)
    assert ((rel <= 16 * unit_roundoff(dtype)) | (reference.to_float(exact) < tiny)).all(), rel


def test_the_compositions_lose_tiny_losses():
    """What the tiny-loss test guards against: 1 - p_t computed as 1 - p is 0 in float32."""
    x = np.array([[20.0, 0.0, -10.0]], dtype=np.float32)
    y = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    for name, options in [("softmax_focal_loss", {"gamma": 2.0}), ("poly1_cross_entropy", {})]:
        exact = getattr(reference, name)(x, y, **options)
        for label, kind, fn in agreement.implementations(name):
            rel = reference.relative_error(fn(x, y, **options)[0], exact)
            if kind == "ours":
                assert rel.max() < 1e-6, label
            else:
                assert rel.max() > 0.5, label
    values, _ = agreement.ours("numpy", "sigmoid_focal_loss")(x[0, :1], y[0, :1])
    torchvision_like, _ = dict(agreement.BUILTINS["sigmoid_focal_loss"])[
        "torchvision formula (F.bce_with_logits * (1-p_t)^g)"
    ](x[0, :1], y[0, :1])
    assert values[0] > 0 and torchvision_like[0] == 0


# --- gradients


def _assert_gradient_close(grad, exact_grad, dtype, scale=1.0):
    err = np.abs(np.asarray(grad, dtype=np.float64) - reference.to_float(exact_grad))
    assert err.max(initial=0) <= 16 * scale * unit_roundoff(dtype), err


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25)
@given(data=st.data())
def test_gradients_match_the_reference(backend, data):
    """NumPy's derived gradients, torch autograd and TF GradientTape against the reference."""
    x = data.draw(logits())
    y = data.draw(distributions(x))
    probs = data.draw(probabilities(x.shape, x.dtype))
    gamma, alpha = data.draw(GAMMAS), _alpha(data.draw, x.shape[-1])
    cases = [
        ("softmax_focal_loss", y, {"gamma": gamma, "alpha": alpha}),
        ("poly1_cross_entropy", y, {"epsilon": data.draw(st.sampled_from([0.0, 1.0, 2.0]))}),
        ("sigmoid_focal_loss", probs, {"gamma": gamma, "alpha": _alpha(data.draw)}),
    ]
    for name, second, options in cases:
        _, grad = agreement.ours(backend, name)(x, second, **options)
        exact = getattr(reference, f"{name}_grad")(x, second, **options)
        scale = max(1.0, float(np.abs(reference.to_float(exact)).max(initial=0)))
        _assert_gradient_close(grad, exact, x.dtype, scale * (1 + gamma) * x.shape[-1])


@settings(max_examples=25)
@given(data=st.data())
def test_derived_gradients_match_finite_differences(data):
    """Independent of the reference: the chapter's formulas against central differences."""
    import xent.numpy as xnp

    x = data.draw(logits(max_rows=3, max_classes=4, dtype=np.float64)).clip(-8, 8)
    y = data.draw(distributions(x))
    probs = data.draw(probabilities(x.shape, x.dtype))
    gamma = data.draw(st.sampled_from([0.0, 1.0, 2.0, 5.0]))  # 0.5: q^0.5 is stiff near q = 0
    for name, second, options in [
        ("softmax_focal_loss", y, {"gamma": gamma, "alpha": 0.25}),
        ("poly1_cross_entropy", y, {"epsilon": 1.5}),
        ("sigmoid_focal_loss", probs, {"gamma": gamma, "alpha": 0.25}),
    ]:
        loss, grad = getattr(xnp, name), getattr(xnp, f"{name}_grad")
        numeric = finite_difference(lambda z, f=loss, s=second, o=options: f(z, s, **o), x)
        np.testing.assert_allclose(grad(x, second, **options), numeric, atol=2e-7)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gamma_below_one_has_finite_gradients_at_certainty(backend, dtype):
    """(1 - p_t)^gamma has an infinite derivative at p_t = 1; the loss's is finite and -> 0."""
    x = np.array([[1e4, -1e4, 0.0]], dtype=dtype)
    y = np.array([[1.0, 0.0, 0.0]], dtype=dtype)
    for name, second in [("sigmoid_focal_loss", y), ("softmax_focal_loss", y)]:
        for gamma in (0.0, 0.25, 0.5):
            values, grad = agreement.ours(backend, name)(x, second, gamma=gamma)
            assert np.isfinite(values).all() and np.isfinite(grad).all(), (name, gamma, grad)
            exact = getattr(reference, f"{name}_grad")(x, second, gamma=gamma)
            _assert_gradient_close(grad, exact, dtype)


# --- invariances and special values


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=15)
@given(data=st.data())
def test_special_parameters_give_plain_cross_entropy(backend, data):
    """gamma = 0 (no alpha) and epsilon = 0 are cross-entropy; alpha scales as it should."""
    module = _module(backend)
    x = data.draw(logits(max_classes=5, dtype=np.float64)).clip(-30, 30)
    y = data.draw(distributions(x))
    probs = data.draw(probabilities(x.shape, x.dtype))
    ce = to_numpy(module.softmax_cross_entropy(x, y))
    bce = to_numpy(module.sigmoid_cross_entropy(x, probs))
    close = {"rtol": 1e-13, "atol": 1e-300}
    np.testing.assert_allclose(to_numpy(module.softmax_focal_loss(x, y, gamma=0.0)), ce, **close)
    np.testing.assert_allclose(to_numpy(module.poly1_cross_entropy(x, y, epsilon=0.0)), ce, **close)
    np.testing.assert_allclose(
        to_numpy(module.sigmoid_focal_loss(x, probs, gamma=0.0)), bce, **close
    )
    gamma = data.draw(GAMMAS)
    plain = to_numpy(module.softmax_focal_loss(x, y, gamma=gamma))
    for alpha in (0.25, np.full(x.shape[-1], 0.25)):
        scaled = to_numpy(module.softmax_focal_loss(x, y, gamma=gamma, alpha=alpha))
        np.testing.assert_allclose(scaled, 0.25 * plain, **close)
    plain = to_numpy(module.sigmoid_focal_loss(x, probs, gamma=gamma))
    half = to_numpy(module.sigmoid_focal_loss(x, probs, gamma=gamma, alpha=0.5))
    np.testing.assert_allclose(half, 0.5 * plain, **close)
    # alpha weighs positives, 1 - alpha negatives
    hard = (probs > 0.5).astype(x.dtype)
    weighted = to_numpy(module.sigmoid_focal_loss(x, hard, gamma=gamma, alpha=0.8))
    expected = np.where(hard == 1, 0.8, 0.2) * to_numpy(module.sigmoid_focal_loss(x, hard, gamma))
    np.testing.assert_allclose(weighted, expected, **close)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=15)
@given(data=st.data(), shift=st.sampled_from([-64.0, 0.5, 1024.0]))
def test_softmax_losses_are_shift_invariant_and_non_negative(backend, data, shift):
    module = _module(backend)
    x = data.draw(logits(max_classes=5, dtype=np.float64)).clip(-50, 50)
    y = data.draw(distributions(x))
    gamma = data.draw(GAMMAS)
    for fn in (
        lambda z: module.softmax_focal_loss(z, y, gamma=gamma),
        lambda z: module.poly1_cross_entropy(z, y),
    ):
        here, there = to_numpy(fn(x)), to_numpy(fn(x + shift))
        assert (here >= 0).all()
        np.testing.assert_allclose(there, here, rtol=1e-9, atol=1e-12 * (1 + abs(shift)))
    probs = data.draw(probabilities(x.shape, x.dtype))
    assert (to_numpy(module.sigmoid_focal_loss(x, probs, gamma=gamma)) >= 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_are_kept(backend, dtype):
    module = _module(backend)
    x = np.array([[1.0, -2.0, 0.5]], dtype=dtype)
    y = np.array([[0.0, 1.0, 0.0]], dtype=dtype)
    for result in (
        module.sigmoid_focal_loss(x, y, gamma=2.0, alpha=0.25),
        module.softmax_focal_loss(x, y, gamma=2.0, alpha=np.array([0.2, 0.3, 0.5])),
        module.poly1_cross_entropy(x, y, epsilon=1.0),
        module.smooth_labels(y, 0.1),
        module.smooth_labels(y, 0.1, binary=True),
    ):
        assert to_numpy(result).dtype == dtype


# --- label smoothing


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=20)
@given(data=st.data(), eps=st.sampled_from([0.0, 0.1, 0.25, 1.0]))
def test_smoothing_preserves_row_sums_and_is_the_formula(backend, data, eps):
    module = _module(backend)
    x = data.draw(logits(max_classes=6, dtype=np.float64))
    y = data.draw(distributions(x))
    smooth = to_numpy(module.smooth_labels(y, eps))
    np.testing.assert_allclose(smooth.sum(axis=-1), y.sum(axis=-1), rtol=1e-15)
    np.testing.assert_allclose(smooth, (1 - eps) * y + eps / y.shape[-1], rtol=1e-15)
    binary = to_numpy(module.smooth_labels(y, eps, binary=True))
    np.testing.assert_allclose(binary, (1 - eps) * y + eps / 2, rtol=1e-15)
    assert ((binary >= 0) & (binary <= 1)).all()


@settings(max_examples=15)
@given(data=st.data(), eps=st.sampled_from([0.05, 0.1, 0.3]))
def test_smoothing_matches_torch_and_keras(data, eps):
    import xent.numpy as xnp

    x = data.draw(logits(max_classes=6, dtype=np.float64)).clip(-40, 40)
    assume(x.shape[-1] > 1)  # Keras warns about one class
    y = data.draw(distributions(x))
    ours = xnp.softmax_cross_entropy(x, xnp.smooth_labels(y, eps))
    torch_ls = F.cross_entropy(
        torch.tensor(x), torch.tensor(y), label_smoothing=eps, reduction="none"
    ).numpy()
    keras_ls = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=eps, reduction=None, dtype="float64"
    )(y, x).numpy()
    np.testing.assert_allclose(torch_ls, ours, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(keras_ls, ours, rtol=1e-12, atol=1e-12)
    probs = data.draw(probabilities(x.shape, x.dtype))
    ours_b = xnp.sigmoid_cross_entropy(x, xnp.smooth_labels(probs, eps, binary=True))
    keras_b = keras.losses.BinaryCrossentropy(
        from_logits=True, label_smoothing=eps, reduction=None, dtype="float64"
    )(probs[..., None], x[..., None]).numpy()
    np.testing.assert_allclose(keras_b, ours_b, rtol=1e-12, atol=1e-12)


def test_two_class_smoothing_is_binary_smoothing():
    import xent.numpy as xnp

    y1 = np.array([0.0, 1.0, 0.3])
    two = np.stack([1 - y1, y1], axis=-1)
    np.testing.assert_allclose(
        xnp.smooth_labels(two, 0.2)[:, 1], xnp.smooth_labels(y1, 0.2, binary=True), rtol=1e-15
    )


# --- bad input: the same message in every backend

X = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]])
Y = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])

CASES = [
    # (function, args, keyword options, pattern the message must contain)
    ("smooth_labels", (Y,), {"eps": 1.5}, r"eps must be in \[0, 1\], got 1\.5"),
    ("smooth_labels", (Y,), {"eps": -0.1}, r"eps must be in \[0, 1\], got -0\.1"),
    ("smooth_labels", (Y,), {"eps": float("nan")}, r"eps must be a real number, got nan"),
    ("smooth_labels", (Y * 2,), {"eps": 0.1}, r"in \[0, 1\], got 2 at index \(0, 2\)"),
    ("smooth_labels", (Y.astype(int),), {"eps": 0.1}, r"floating-point array, got dtype int"),
    ("smooth_labels", (np.array(1.0),), {"eps": 0.1}, r"need a class axis"),
    ("sigmoid_focal_loss", (X, Y), {"gamma": -1.0}, r"gamma must be finite and >= 0 .*, got -1"),
    ("sigmoid_focal_loss", (X, Y), {"gamma": np.inf}, r"gamma must be finite and >= 0"),
    ("sigmoid_focal_loss", (X, Y), {"alpha": 1.5}, r"alpha must be in \[0, 1\], got 1\.5"),
    ("sigmoid_focal_loss", (X, Y), {"alpha": np.array([0.1, 0.2])}, r"alpha must be a scalar"),
    ("sigmoid_focal_loss", (X, Y * 2), {}, r"in \[0, 1\], got 2"),
    ("softmax_focal_loss", (X, Y), {"gamma": -0.5}, r"gamma must be finite and >= 0 .*, got -0\.5"),
    ("softmax_focal_loss", (X, Y), {"alpha": np.array([0.5, 0.5])}, r"one weight per class"),
    ("softmax_focal_loss", (X, Y), {"alpha": np.array([0.5, -1, 0])}, r"got -1 at index \(1,\)"),
    ("softmax_focal_loss", (X, Y * 0.9), {}, r"row \(0,\) sums to 0\.9"),
    ("softmax_focal_loss", (X, Y), {"gamma": "2"}, r"gamma must be a real number"),
    ("poly1_cross_entropy", (X, Y), {"epsilon": -2.0}, r"epsilon must be finite and >= -1"),
    ("poly1_cross_entropy", (X, Y[:, :2]), {}, r"same shape"),
]


@pytest.mark.parametrize(("name", "args", "options", "pattern"), CASES)
def test_every_backend_rejects_bad_input_with_the_same_message(name, args, options, pattern):
    messages = []
    for backend in BACKENDS:
        with pytest.raises(InputError, match=pattern) as info:
            getattr(_module(backend), name)(*args, **options)
        messages.append(str(info.value))
    assert len(set(messages)) == 1, messages


def test_edge_values():
    """Infinite logits and the ends of the parameter ranges give the limits, not NaN."""
    import xent.numpy as xnp

    x = np.array([np.inf, -np.inf, np.inf, -np.inf])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    for backend in BACKENDS:
        values = to_numpy(_module(backend).sigmoid_focal_loss(x, y, gamma=2.0, alpha=0.25))
        np.testing.assert_array_equal(values, [0.0, 0.0, np.inf, np.inf])
    assert xnp.smooth_labels(Y, 1.0).tolist() == np.full_like(Y, 1 / 3).tolist()
    ruled_out = np.array([[2.0, -np.inf, 0.0]])
    onehot = np.array([[1.0, 0.0, 0.0]])
    for backend in BACKENDS:
        for name in ("softmax_focal_loss", "poly1_cross_entropy"):
            values, grad = agreement.ours(backend, name)(ruled_out, onehot)
            assert np.isfinite(values).all() and np.isfinite(grad).all(), (backend, name, grad)
