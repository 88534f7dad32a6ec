"""Huge vocabularies: exact chunked cross-entropy, sampled softmax and NCE, in every backend."""

import importlib
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import xent.numpy as xnp
from conftest import BACKENDS, DTYPES, to_numpy, unit_roundoff
from xent import InputError, agreement, reference
from xent._quiet import import_tensorflow

tf = import_tensorflow()


def _backend(name):
    return importlib.import_module(f"xent.{name}")


def _layer(seed, n, h, v, dtype=np.float64, scale=1.0):
    rng = np.random.default_rng(seed)
    hidden = (rng.normal(size=(n, h)) * scale).astype(dtype)
    weight = (rng.normal(size=(v, h)) * scale).astype(dtype)
    return hidden, weight, rng.integers(0, v, n)


def _grads(backend, hidden, weight, labels, chunk_size):
    """(loss, d sum / d hidden, d sum / d weight) of our chunked function in `backend`."""
    if backend == "numpy":
        loss, (gh, gw) = xnp.chunked_softmax_cross_entropy_value_and_grad(
            hidden, weight, labels, chunk_size
        )
        return loss, gh, gw
    fn = _backend(backend).chunked_softmax_cross_entropy
    if backend == "torch":
        h, w = torch.tensor(hidden, requires_grad=True), torch.tensor(weight, requires_grad=True)
        loss = fn(h, w, torch.tensor(labels), chunk_size)
        gh, gw = torch.autograd.grad(loss.sum(), [h, w])
        return loss.detach().numpy(), gh.numpy(), gw.numpy()
    h, w = tf.constant(hidden), tf.constant(weight)
    with tf.GradientTape() as tape:
        tape.watch([h, w])
        loss = fn(h, w, tf.constant(labels), chunk_size)
        total = tf.reduce_sum(loss)
    gh, gw = tape.gradient(total, [h, w])
    return loss.numpy(), gh.numpy(), gw.numpy()


def _naive(hidden, weight, labels):
    """The full logits in float64: loss, d/d hidden, d/d weight."""
    z = hidden.astype(np.float64) @ weight.astype(np.float64).T
    loss, g = xnp.sparse_softmax_cross_entropy_value_and_grad(z, labels)
    return loss, g @ weight.astype(np.float64), g.T @ hidden.astype(np.float64)


# --- chunked cross-entropy


@settings(max_examples=25)
@given(
    n=st.integers(1, 4),
    h=st.integers(1, 4),
    v=st.integers(1, 12),
    exponent=st.integers(-2, 2),
    dtype=st.sampled_from(DTYPES),
    chunk=st.integers(1, 14),
    seed=st.integers(0, 2**16),
)
def test_chunked_values_match_the_reference(n, h, v, exponent, dtype, chunk, seed):
    """Forward error: the logits' own rounding (a dot product of h terms) and a few u more."""
    hidden, weight, labels = _layer(seed, n, h, v, dtype, scale=10.0**exponent)
    exact = reference.to_float(reference.chunked_softmax_cross_entropy(hidden, weight, labels))
    dots = np.abs(hidden.astype(np.float64)) @ np.abs(weight.astype(np.float64)).T
    u = unit_roundoff(dtype)
    allowed = 2 * (h + 2) * u * dots.max() + 16 * u * (np.abs(exact) + np.log(v) + 1)
    for backend in BACKENDS:
        loss = to_numpy(
            _backend(backend).chunked_softmax_cross_entropy(hidden, weight, labels, chunk)
        )
        assert loss.dtype == dtype
        assert (np.abs(loss - exact) <= allowed).all(), (backend, loss, exact, allowed)


@settings(max_examples=15)
@given(
    n=st.integers(1, 4),
    h=st.integers(1, 4),
    v=st.integers(1, 10),
    chunk=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_chunked_gradients_match_the_reference_and_each_other(n, h, v, chunk, seed):
    """NumPy's derived gradients, torch's Function and TF's custom_gradient, float64."""
    hidden, weight, labels = _layer(seed, n, h, v, scale=2.0)
    exact_h, exact_w = (
        reference.to_float(g)
        for g in reference.chunked_softmax_cross_entropy_grad(hidden, weight, labels)
    )
    scale = 1 + np.abs(hidden).max() * np.abs(weight).max() * h
    for backend in BACKENDS:
        _, gh, gw = _grads(backend, hidden, weight, labels, chunk)
        np.testing.assert_allclose(gh, exact_h, atol=1e-13 * scale * np.abs(weight).max() * v)
        np.testing.assert_allclose(gw, exact_w, atol=1e-13 * scale * np.abs(hidden).max() * n)


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 20, 64])
@pytest.mark.parametrize("dtype", DTYPES)
def test_chunked_equals_naive_for_every_chunk_size(chunk_size, dtype):
    """Chunks that divide V, that do not, of size 1, V and more than V."""
    hidden, weight, labels = _layer(1, 6, 5, 20, dtype, scale=1.5)
    loss, gh, gw = _naive(hidden, weight, labels)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    for backend in BACKENDS:
        mine = _grads(backend, hidden, weight, labels, chunk_size)
        assert all(m.dtype == dtype for m in mine)
        for computed, expected in zip(mine, (loss, gh, gw), strict=True):
            np.testing.assert_allclose(computed, expected, rtol=rtol, atol=rtol * 10)


def test_chunked_gradient_against_finite_differences():
    hidden, weight, labels = _layer(2, 3, 2, 5)
    _, gh, gw = _grads("numpy", hidden, weight, labels, 2)
    step = 1e-6
    for array, grad in ((hidden, gh), (weight, gw)):
        for index in np.ndindex(array.shape):
            up, down = array.copy(), array.copy()
            up[index] += step
            down[index] -= step
            args_up = (up, weight) if array is hidden else (hidden, up)
            args_down = (down, weight) if array is hidden else (hidden, down)
            fd = (
                xnp.chunked_softmax_cross_entropy(*args_up, labels, 2).sum()
                - xnp.chunked_softmax_cross_entropy(*args_down, labels, 2).sum()
            ) / (2 * step)
            assert abs(fd - grad[index]) < 1e-7


@pytest.mark.parametrize("dtype", DTYPES)
def test_chunked_extreme_logits_do_not_overflow(dtype):
    """Logits of +-1e4 to 1e6: exp never sees a positive argument; a dominant label costs 0."""
    rng = np.random.default_rng(3)
    hidden = (rng.normal(size=(4, 3)) * 100).astype(dtype)
    weight = (rng.normal(size=(9, 3)) * 100).astype(dtype)
    labels = (hidden @ weight.T).argmax(axis=1)
    wrong = (labels + 1) % 9
    for backend in BACKENDS:
        fn = _backend(backend).chunked_softmax_cross_entropy
        right_loss = to_numpy(fn(hidden, weight, labels, 4))
        wrong_loss = to_numpy(fn(hidden, weight, wrong, 4))
        assert np.isfinite(right_loss).all() and np.isfinite(wrong_loss).all()
        assert (right_loss < 1e-3).all() and (wrong_loss > 1).all()
        _, gh, gw = _grads(backend, hidden, weight, wrong, 4)
        assert np.isfinite(gh).all() and np.isfinite(gw).all()


def _peak(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_chunked_needs_several_times_less_memory():
    """N=256, H=64, V=16384 in float64: the logits alone are 32 MiB, a chunk of 1024 is 2."""
    hidden, weight, labels = _layer(4, 256, 64, 16384, scale=0.2)

    def naive():
        loss, g = xnp.sparse_softmax_cross_entropy_value_and_grad(hidden @ weight.T, labels)
        return loss, g @ weight, g.T @ hidden

    def chunked():
        return xnp.chunked_softmax_cross_entropy_value_and_grad(hidden, weight, labels, 1024)

    naive_peak, chunked_peak = _peak(naive), _peak(chunked)
    assert naive_peak > 4 * chunked_peak, (naive_peak, chunked_peak)


def test_plain_autograd_over_chunks_saves_every_chunk():
    """Why the custom Function: autograd through a loop of chunks keeps them all alive."""
    hidden, weight, labels = _layer(5, 64, 16, 4096, np.float32)
    h, w = torch.tensor(hidden, requires_grad=True), torch.tensor(weight, requires_grad=True)

    def saved_bytes(loss_fn):
        sizes = []

        def pack(t):
            sizes.append(t.numel() * t.element_size())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss_fn()
        return sum(sizes)

    def plain():
        chunks = [h @ w[s : s + 512].T for s in range(0, 4096, 512)]
        return torch.nn.functional.cross_entropy(torch.cat(chunks, 1), torch.tensor(labels))

    import xent.torch as xtorch

    def custom():
        return xtorch.chunked_softmax_cross_entropy(h, w, labels, 512)

    logits_bytes = 64 * 4096 * 4
    assert saved_bytes(plain) >= logits_bytes
    assert saved_bytes(custom) <= (h.numel() + w.numel() + 3 * 64) * 8


# --- sampled softmax and NCE


def _sampled_case(seed=0, dtype=np.float64, hit=True, duplicates=False):
    rng = np.random.default_rng(seed)
    n, h, v, k = 5, 4, 30, 8
    weights = rng.normal(size=(v, h)).astype(dtype)
    biases = (rng.normal(size=v) * 0.3).astype(dtype)
    inputs = rng.normal(size=(n, h)).astype(dtype)
    labels = rng.integers(0, v, n)
    sampled = rng.choice(v, k, replace=duplicates)
    if hit and (duplicates or labels[0] not in sampled):  # unique ids unless duplicates asked
        sampled[2] = labels[0]
    if duplicates:
        sampled[5] = labels[0]
    true_count = rng.uniform(0.05, 1.5, n).astype(dtype)
    sampled_count = rng.uniform(0.05, 1.5, k).astype(dtype)
    return weights, biases, labels, inputs, sampled, true_count, sampled_count


@pytest.mark.parametrize("name", ["sampled_softmax_loss", "nce_loss"])
@pytest.mark.parametrize("remove", [True, False])
def test_sampled_losses_agree_with_tensorflow_and_the_reference(name, remove):
    """Unique samples (TF's default sampler): our three backends, TF's op, torch composition."""
    table = agreement.compare_inputs(name, _sampled_case(), remove_accidental_hits=remove)
    assert len(table) == 10
    f32, f64 = table.loc["float32"], table.loc["float64"]
    assert (f32["max rel"] < 1e-6).all() and (f64["max rel"] < 1e-14).all(), table
    assert (table["grad / u"] < 50).all(), table
    assert (table["non-finite"] == 0).all()


@settings(max_examples=12)
@given(
    name=st.sampled_from(["sampled_softmax_loss", "nce_loss"]),
    seed=st.integers(0, 2**16),
    hit=st.booleans(),
    remove=st.booleans(),
)
def test_sampled_losses_agree_on_random_layers(name, seed, hit, remove):
    """Random output layers, samples and expected counts: every implementation, float64."""
    table = agreement.compare_inputs(
        name, _sampled_case(seed, hit=hit), dtypes=("float64",), remove_accidental_hits=remove
    )
    assert (table["max rel"] < 1e-13).all() and (table["grad / u"] < 64).all(), table
    assert (table["non-finite"] == 0).all()


def test_tensorflow_removes_only_one_of_duplicated_hits():
    """TF maps each sampled id to one position: a duplicated accidental hit stays in."""
    args = _sampled_case(duplicates=True)
    ours = xnp.sampled_softmax_loss(*args)
    weights, biases, labels, inputs, sampled, true_count, sampled_count = args
    theirs = tf.nn.sampled_softmax_loss(
        weights,
        biases,
        labels[:, None],
        inputs,
        len(sampled),
        len(weights),
        sampled_values=(sampled, true_count[:, None], sampled_count),
    ).numpy()
    np.testing.assert_allclose(theirs[1:], ours[1:], rtol=1e-13)
    assert theirs[0] > ours[0] + 1e-3  # row 0's label is sampled twice: one copy kept


@pytest.mark.parametrize("backend", BACKENDS)
def test_removing_hits_is_deleting_their_columns(backend):
    fn = _backend(backend).sampled_softmax_loss
    weights, biases, labels, inputs, sampled, true_count, sampled_count = _sampled_case()
    removed = to_numpy(fn(weights, biases, labels, inputs, sampled, true_count, sampled_count))
    for i in range(len(labels)):
        keep = sampled != labels[i]
        row = to_numpy(
            fn(
                weights,
                biases,
                labels[i : i + 1],
                inputs[i : i + 1],
                sampled[keep],
                true_count[i : i + 1],
                sampled_count[keep],
            )
        )
        np.testing.assert_allclose(removed[i], row[0], rtol=1e-14)
    nce = _backend(backend).nce_loss
    args = (weights, biases, labels, inputs, sampled, true_count, sampled_count)
    with_hits = to_numpy(nce(*args, remove_accidental_hits=False))
    without = to_numpy(nce(*args, remove_accidental_hits=True))
    hit = (sampled[None, :] == labels[:, None]).any(axis=1)
    assert hit[0] and (with_hits[hit] > without[hit]).all()
    np.testing.assert_allclose(with_hits[~hit], without[~hit], rtol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampling_every_class_is_the_full_softmax(backend):
    """k = V, Q = 1 and hits removed: exactly the full cross-entropy of inputs @ W.T + b."""
    weights, biases, labels, inputs, _, _, _ = _sampled_case(hit=False)
    v = len(weights)
    loss = _backend(backend).sampled_softmax_loss(
        weights, biases, labels, inputs, np.arange(v), np.ones(len(labels)), np.ones(v)
    )
    full = xnp.sparse_softmax_cross_entropy(inputs @ weights.T + biases, labels)
    np.testing.assert_allclose(to_numpy(loss), full, rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampled_softmax_is_shift_invariant_and_nce_is_not(backend):
    args = list(_sampled_case())
    module = _backend(backend)
    before = [to_numpy(module.sampled_softmax_loss(*args)), to_numpy(module.nce_loss(*args))]
    args[1] = args[1] + 3.0
    after = [to_numpy(module.sampled_softmax_loss(*args)), to_numpy(module.nce_loss(*args))]
    np.testing.assert_allclose(after[0], before[0], rtol=1e-12)
    assert not np.allclose(after[1], before[1])
    assert (before[0] >= 0).all() and (before[1] >= 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_sampled_losses_keep_the_dtype(dtype):
    args = _sampled_case(dtype=dtype)
    for backend in BACKENDS:
        module = _backend(backend)
        for fn in (module.sampled_softmax_loss, module.nce_loss):
            assert to_numpy(fn(*args)).dtype == dtype


# --- bad input: the same message in every backend

H, W, T = _layer(0, 3, 2, 5)
SAMPLED = _sampled_case()

CHUNKED_CASES = [
    ((H, W[:, :1], T, 2), r"hidden \(3, 2\) and weight \(5, 1\) must have the same number"),
    ((H, W, np.array([0, 5, 1]), 2), r"label 5 at index \(1,\) is out of range: there are 5"),
    ((H, W, T[:2], 2), r"labels must have shape \(3,\), got \(2,\)"),
    ((H, W, T, 0), r"chunk_size must be at least 1, got 0"),
    ((H, W, T, 2.5), r"chunk_size must be an integer"),
    ((H, W.astype(np.float32), T, 2), r"same dtype, got float64 and float32"),
    ((H[0], W, T, 2), r"hidden must be a 2-D array"),
    ((np.where(H > 0, np.nan, H), W, T, 2), r"hidden contain NaN"),
]


def _replace(args, index, value):
    args = list(args)
    args[index] = value
    return tuple(args)


SAMPLED_CASES = [
    (_replace(SAMPLED, 4, np.array([0, 30])), r"sampled 30 at index \(1,\) is out of range"),
    (_replace(SAMPLED, 2, SAMPLED[2] + 30), r"label 3\d at index \(0,\) is out of range"),
    (_replace(SAMPLED, 5, -SAMPLED[5]), r"true_expected_count must be positive and finite"),
    (_replace(SAMPLED, 6, SAMPLED[6][:3]), r"sampled_expected_count must have shape \(8,\)"),
    (_replace(SAMPLED, 1, SAMPLED[1][:3]), r"biases must have shape \(30,\), got \(3,\)"),
    (_replace(SAMPLED, 3, SAMPLED[3][:, :2]), r"inputs \(5, 2\) and weights \(30, 4\)"),
]


@pytest.mark.parametrize(("args", "pattern"), CHUNKED_CASES)
def test_chunked_bad_input(args, pattern):
    messages = []
    for backend in BACKENDS:
        with pytest.raises(InputError, match=pattern) as info:
            _backend(backend).chunked_softmax_cross_entropy(*args)
        messages.append(str(info.value))
    assert len(set(messages)) == 1, messages


@pytest.mark.parametrize(("args", "pattern"), SAMPLED_CASES)
@pytest.mark.parametrize("name", ["sampled_softmax_loss", "nce_loss"])
def test_sampled_bad_input(name, args, pattern):
    messages = []
    for backend in BACKENDS:
        with pytest.raises(InputError, match=pattern) as info:
            getattr(_backend(backend), name)(*args)
        messages.append(str(info.value))
    assert len(set(messages)) == 1, messages
