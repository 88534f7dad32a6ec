"""Training the fraction MLP with any loss, in NumPy, PyTorch or TensorFlow, identically.

One loop serves all three backends. Only the gradient differs in where it comes from: NumPy's
hand-written backward pass (`xent.numpy`'s derived gradients, then `mlp_backward`), torch
autograd, or a TensorFlow GradientTape, on the losses of `xent.<backend>`. Everything else is
NumPy and shared: the initial weights (from `seed`), the order of the samples in every epoch
(from `seed` too), the optimizer update, the validation metrics. In float64 with plain SGD the
three backends' loss curves therefore agree to rounding (a test holds them to 1e-10).
"""

import contextlib
import math
import time

import numpy as np

from xent import _checks
from xent.fractions import losses
from xent.fractions.metrics import evaluate
from xent.fractions.models import (
    ACTIVATIONS,
    FractionMLP,
    init_params,
    mlp_backward,
    mlp_layers,
    numpy_activation,
)

BACKENDS = ("numpy", "torch", "tensorflow")
OPTIMIZERS = ("sgd", "adam")
#: The learning rate each optimizer uses when `train` is given none.
DEFAULT_LR = {"sgd": 0.3, "adam": 3e-3}
DTYPES = ("float64", "float32")

_ADAM_BETAS, _ADAM_EPS = (0.9, 0.999), 1e-8


def _numpy_gradient(spec, x, terms, activation):
    act = numpy_activation(activation)

    def gradient(params, idx):
        xb, tb = x[idx], {k: v[idx] for k, v in terms.items()}
        layers = mlp_layers(params, xb, act)
        z = layers[-1]
        value = losses.per_sample_loss(spec, z, tb, losses.NUMPY_OPS).mean()
        g_z = losses.numpy_logit_grad(spec, z, tb) / len(idx)
        return float(value), mlp_backward(params, [xb, *layers[:-1]], g_z, activation)

    return gradient


def _torch_gradient(spec, x, terms, activation):
    import torch

    act = {"relu": torch.relu, "tanh": torch.tanh}[activation]
    ops = losses.backend_ops("torch")
    x_t = torch.from_numpy(x)  # shares memory with the NumPy arrays: no copies, same dtype
    terms_t = {k: torch.from_numpy(v) for k, v in terms.items()}

    def gradient(params, idx):
        idx_t = torch.from_numpy(idx)
        leaves = [torch.from_numpy(p).requires_grad_() for p in params]
        z = mlp_layers(leaves, x_t[idx_t], act)[-1]
        tb = {k: v[idx_t] for k, v in terms_t.items()}
        value = losses.per_sample_loss(spec, z, tb, ops).mean()
        grads = torch.autograd.grad(value, leaves)
        return value.item(), [g.numpy() for g in grads]

    return gradient


def _tensorflow_gradient(spec, x, terms, activation):
    from xent.tensorflow import tf

    act = {"relu": tf.nn.relu, "tanh": tf.tanh}[activation]
    ops = losses.backend_ops("tensorflow")
    x_t = tf.constant(x)
    terms_t = {k: tf.constant(v) for k, v in terms.items()}

    # Compiled: about 6x faster than eager here (20k samples, batch 128). The inputs were checked
    # once, up front; inside a graph xent.tensorflow's value checks do not run.
    @tf.function(reduce_retracing=True)
    def compiled(params, idx):
        with tf.GradientTape() as tape:
            tape.watch(params)
            z = mlp_layers(params, tf.gather(x_t, idx), act)[-1]
            tb = {k: tf.gather(v, idx) for k, v in terms_t.items()}
            value = tf.reduce_mean(losses.per_sample_loss(spec, z, tb, ops))
        return value, tape.gradient(value, params)

    def gradient(params, idx):
        value, grads = compiled([tf.constant(p) for p in params], tf.constant(idx))
        return float(value), [g.numpy() for g in grads]

    return gradient


_GRADIENTS = {
    "numpy": _numpy_gradient,
    "torch": _torch_gradient,
    "tensorflow": _tensorflow_gradient,
}


class _Optimizer:
    """Plain SGD, or Adam as in PyTorch (eps added to the bias-corrected sqrt(v)); in place."""

    def __init__(self, name, lr, params):
        self.name, self.lr, self.t = name, lr, 0
        if name == "adam":
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]

    def update(self, params, grads):
        if self.name == "sgd":
            for p, g in zip(params, grads, strict=True):
                p -= self.lr * g
            return
        self.t += 1
        b1, b2 = _ADAM_BETAS
        step = self.lr / (1 - b1**self.t)
        root_bias2 = math.sqrt(1 - b2**self.t)
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= step * m / (np.sqrt(v) / root_bias2 + _ADAM_EPS)


@contextlib.contextmanager
def _thread_limit(threads, backend):
    """At most `threads` threads in NumPy's BLAS (and torch) while training, restored after.

    The matrices are tiny (128 x 64): threads only add overhead, and on a 2-core machine that is
    busy with something else, two BLAS threads made training up to 10x slower than one.
    TensorFlow's thread pools are fixed when it starts, so they are left alone.
    """
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads), contextlib.ExitStack() as stack:
        if backend == "torch":
            import torch

            saved = torch.get_num_threads()
            torch.set_num_threads(threads)
            stack.callback(torch.set_num_threads, saved)
        yield


def _check_data(x, y, x_name, y_name):
    """Features and fractions with the same number of rows, as NumPy arrays."""
    x, y = np.asarray(x), np.asarray(y)
    _checks.check_features(x_name, x)
    _checks.check_fractions(y_name, y)
    if len(x) != len(y):
        raise _checks.InputError(f"{x_name} has {len(x)} rows but {y_name} has {len(y)}")
    if len(x) == 0:
        raise _checks.InputError(f"{x_name} has no rows")
    return x, y


def _check_options(loss, backend, optimizer, lr, epochs, batch_size, dtype, activation, threads):
    for what, value, choices in (
        ("loss", loss, tuple(losses.LOSSES)),
        ("backend", backend, BACKENDS),
        ("optimizer", optimizer, OPTIMIZERS),
        ("dtype", dtype, DTYPES),
        ("activation", activation, ACTIVATIONS),
    ):
        if value not in choices:
            raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    sizes = [("epochs", epochs), ("batch_size", batch_size)]
    if threads is not None:
        sizes.append(("threads", threads))
    for what, value in sizes:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{what} must be an integer >= 1, got {value!r}")


def _run_epoch(gradient, params, opt, order, batch_size, epoch):
    """One pass over the samples in `order`, updating `params` in place; the mean batch loss."""
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported just below
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            try:
                value, grads = gradient(params, idx)
            except _checks.InputError as err:  # the data were checked: bad logits mean a blow-up
                value, cause = math.nan, err
            else:
                cause = None
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: the loss became {value}. "
                    f"Lower the learning rate (lr={opt.lr})."
                ) from cause
            total += value * len(idx)
            opt.update(params, grads)
    return total / len(order)


def train(
    x,
    y,
    loss="cross_entropy",
    backend="numpy",
    *,
    seed=0,
    optimizer="sgd",
    lr=None,
    epochs=30,
    batch_size=128,
    dtype="float64",
    activation="relu",
    hidden=(64, 64),
    x_val=None,
    y_val=None,
    true_val=None,
    restore_best=False,
    progress=False,
    threads=1,
):
    """Train an MLP (features -> hidden -> logits -> softmax) on target fractions y.

    Arguments:

    - x (n, n_features), y (n, n_classes): features and target fractions (each row >= 0 and
      summing to 1; anything else raises `xent.InputError`).
    - loss: one of `LOSSES` (see `xent.fractions.losses`); backend: "numpy", "torch" or
      "tensorflow".
    - seed: fixes the initial weights and the order of the samples in each epoch, identically
      in every backend (and for every loss: arms with one seed start from the same network).
    - optimizer: "sgd" (plain, no momentum) or "adam"; lr: its learning rate, by default
      `DEFAULT_LR[optimizer]`; epochs, batch_size: mini-batch training, each epoch one pass
      over a fresh permutation (the last batch may be smaller).
    - dtype: "float64" (the default: the backends agree to rounding) or "float32".
    - activation ("relu" or "tanh") and hidden (the hidden layer widths): the network.
      hidden=() is the linear softmax model, i.e. the fractional multinomial logit of the
      econometrics literature.
    - x_val, y_val: validation features and targets, evaluated after every epoch;
      true_val: the true fractions of the validation set, if known (synthetic data).
    - restore_best: keep the weights of the epoch with the lowest validation loss (early
      stopping without the stopping); needs validation data.
    - progress: show a tqdm progress bar over the epochs.
    - threads: how many threads NumPy's BLAS and torch may use while training (restored
      afterwards); 1 is fastest for this small network. None leaves them alone.

    Returns a `FractionMLP`. Its `history` has, per epoch, ``epoch``, ``loss`` (the mean of the
    training loss over the epoch's batches, before each update) and with validation data
    ``val_loss`` plus ``val_<metric>`` for each metric of `evaluate(pred, true, targets)`, where
    true is `true_val` if given (then ``val_mse`` is the excess MSE) and `y_val` otherwise.
    Raises FloatingPointError if the loss stops being finite (learning rate too large).
    """
    lr = DEFAULT_LR.get(optimizer) if lr is None else lr
    _check_options(loss, backend, optimizer, lr, epochs, batch_size, dtype, activation, threads)
    x, y = _check_data(x, y, "x", "y")
    has_val = x_val is not None or y_val is not None
    if has_val:
        if x_val is None or y_val is None:
            raise ValueError("validation needs both x_val and y_val")
        x_val, y_val = _check_data(x_val, y_val, "x_val", "y_val")
        if x_val.shape[1] != x.shape[1] or y_val.shape[1] != y.shape[1]:
            raise _checks.InputError(
                f"validation data have {x_val.shape[1]} features and {y_val.shape[1]} classes, "
                f"training data {x.shape[1]} and {y.shape[1]}"
            )
        if true_val is not None:
            _, true_val = _check_data(x_val, true_val, "x_val", "true_val")
    elif true_val is not None or restore_best:
        raise ValueError("true_val and restore_best need validation data (x_val and y_val)")

    start = time.perf_counter()
    spec = losses.make_loss(loss, y, dtype)
    x_d = np.array(x, dtype=dtype)  # a private, writable copy in the working precision
    terms = losses.loss_terms(spec, y, dtype)
    gradient = _GRADIENTS[backend](spec, x_d, terms, activation)
    init_seed, order_seed = np.random.SeedSequence(seed).spawn(2)
    params = init_params(x.shape[1], y.shape[1], hidden, activation, init_seed, dtype)
    order_rng = np.random.default_rng(order_seed)
    opt = _Optimizer(optimizer, lr, params)
    adjustment = None if loss != "weighted_cross_entropy" else -np.log(spec.class_weights)
    model = FractionMLP(params, activation, adjustment)
    if has_val:
        val_terms = losses.loss_terms(spec, y_val, dtype)
        val_true, val_targets = (y_val, None) if true_val is None else (true_val, y_val)
    history = {"epoch": [], "loss": []}
    best = (math.inf, None, 0)  # validation loss, weights, epoch

    from tqdm.auto import tqdm

    bar = tqdm(range(1, epochs + 1), desc=f"{loss} ({backend})", disable=not progress)
    with _thread_limit(threads, backend):
        for epoch in bar:
            order = order_rng.permutation(len(x_d))
            history["epoch"].append(epoch)
            history["loss"].append(_run_epoch(gradient, params, opt, order, batch_size, epoch))
            postfix = {"loss": f"{history['loss'][-1]:.4g}"}
            if has_val:
                z_val = model.logits(x_val)
                val_loss = losses.per_sample_loss(spec, z_val, val_terms, losses.NUMPY_OPS)
                history.setdefault("val_loss", []).append(float(val_loss.mean()))
                metrics = evaluate(model.predict(x_val), val_true, val_targets)
                for key, value in metrics.items():
                    history.setdefault(f"val_{key}", []).append(value)
                postfix["val_loss"] = f"{history['val_loss'][-1]:.4g}"
                if history["val_loss"][-1] < best[0]:
                    best = (history["val_loss"][-1], [p.copy() for p in params], epoch)
            bar.set_postfix(postfix)

    if restore_best:
        model.params = best[1]
    model.history = history
    model.config = {
        "loss": loss,
        "backend": backend,
        "seed": seed,
        "optimizer": optimizer,
        "lr": lr,
        "epochs": epochs,
        "batch_size": batch_size,
        "dtype": dtype,
        "activation": activation,
        "hidden": tuple(hidden),
        "best_epoch": best[2] if restore_best else None,
        "seconds": time.perf_counter() - start,
    }
    return model
