"""One function, every implementation, one table.

`compare(name, logits, second, **options)` runs `name` (one of `xent.FUNCTIONS`) through our
three backends and the frameworks' built-ins, in float32 and float64, scores each against the
mpmath reference and returns a pandas DataFrame with one row per (dtype, implementation).
Keyword options (a focal loss's gamma, a positive-class weight) go to every implementation,
the reference and its gradient alike; a built-in adapter takes them under the same names, and
a built-in whose adapter cannot take the options given (None meaning "not given") gets no row:
Keras has no positive-class weight, `tf.nn.weighted_cross_entropy_with_logits` needs one.
The columns:

- ``max ulp``: the largest error of the values, in units in the last place of that dtype;
- ``max rel``: the largest relative error of the values;
- ``grad / u``: the largest absolute error of d(sum of values)/d logits, in units of that
  dtype's roundoff u (gradients of these losses are O(1), so this is a relative measure);
- ``non-finite``: how many values are NaN or inf where the true value is finite.

`compare_inputs(name, args, **options)` does the same for the functions of several arrays (an
output layer's hidden states and weights); its ``grad / u`` scores every gradient it checks,
each error divided by the largest entry of that true gradient when that entry exceeds 1 (the
gradients of a weight matrix grow with the batch), so that it stays a relative measure.

Importing this module imports torch and TensorFlow.
"""

import importlib
import inspect

import numpy as np
import pandas as pd

from xent import BACKENDS, reference
from xent.builtins import BUILTINS, run_tensorflow, run_torch

# The reference gradient of the sum of the values, where the comparison includes one.
_REFERENCE_GRADS = {
    "logsumexp": reference.softmax,
    "log_sigmoid": lambda x: reference.sigmoid(-np.asarray(x)),
    "softmax_cross_entropy": reference.softmax_cross_entropy_grad,
    "sparse_softmax_cross_entropy": reference.sparse_softmax_cross_entropy_grad,
    "sigmoid_cross_entropy": reference.sigmoid_cross_entropy_grad,
    "kl_divergence": reference.kl_divergence_grad,
    # its first argument is probabilities, not logits: compare passes it through unchanged
    "binary_cross_entropy_from_probs": reference.binary_cross_entropy_from_probs_grad,
    "sigmoid_focal_loss": reference.sigmoid_focal_loss_grad,
    "softmax_focal_loss": reference.softmax_focal_loss_grad,
    "poly1_cross_entropy": reference.poly1_cross_entropy_grad,
}


def ours(backend, name):
    """(values, gradient of their sum) of our `backend` implementation of `name`, as NumPy."""
    module = importlib.import_module(f"xent.{backend}")
    fn = getattr(module, name)
    wants_grad = name in _REFERENCE_GRADS
    if backend == "torch":
        return lambda *args, **options: run_torch(
            lambda *a: fn(*a, **options), *args, grad=wants_grad
        )
    if backend == "tensorflow":
        return lambda *args, **options: run_tensorflow(
            lambda *a: fn(*a, **options), *args, grad=wants_grad
        )
    derived = getattr(module, f"{name}_grad", None)
    if name == "logsumexp":
        derived = module.softmax  # d logsumexp / dx = softmax: the chapter derives it
    if name == "log_sigmoid":
        derived = lambda x: module.sigmoid(-x)  # noqa: E731
    return lambda *args, **options: (
        fn(*args, **options),
        derived(*args, **options) if derived else None,
    )


def _accepts(fn, args, kwargs):
    """Whether fn can be called with these arguments (its signature has the options)."""
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return False
    return True


def implementations(name):
    """(label, kind, callable) for every implementation of `name`, ours first."""
    mine = [(f"xent.{b}.{name}", "ours", ours(b, name)) for b in BACKENDS]
    return mine + [(label, "built-in", fn) for label, fn in BUILTINS[name]]


def _cast(second, dtype):
    if second is None:
        return ()
    second = np.asarray(second)
    return (second.astype(dtype) if np.issubdtype(second.dtype, np.floating) else second,)


def compare(name, logits, second=None, dtypes=("float32", "float64"), **options):
    """Score every implementation of `name` on (logits[, targets or labels]); see the module doc."""
    rows = []
    for dtype in dtypes:
        x = np.asarray(logits).astype(dtype)
        rest = _cast(second, dtype)
        exact = getattr(reference, name)(x, *rest, **options)
        exact_grad = (
            _REFERENCE_GRADS[name](x, *rest, **options) if name in _REFERENCE_GRADS else None
        )
        u = np.finfo(dtype).eps / 2
        for label, kind, fn in implementations(name):
            args = (x, *rest)
            if kind == "built-in":
                kwargs = {key: value for key, value in options.items() if value is not None}
                if not _accepts(fn, args, kwargs):
                    continue
            else:
                kwargs = options
            values, grad = fn(*args, **kwargs)
            row = score(label, kind, values, None, exact, None) | {"dtype": dtype}
            if exact_grad is not None and grad is not None:
                computed, true = grad.astype(np.float64), reference.to_float(exact_grad)
                with np.errstate(invalid="ignore"):  # inf - inf: an exact infinite gradient
                    err = np.where(computed == true, 0.0, np.abs(computed - true))
                row["grad / u"] = np.max(err, initial=0.0) / u
            rows.append(row)
    return pd.DataFrame(rows).set_index(["dtype", "implementation"])


def rounded(table):
    """The table with numbers rounded for display (so stored outputs reproduce on any CPU)."""
    return table.style.format(
        {"max ulp": "{:.3g}", "max rel": "{:.1e}", "grad / u": "{:.3g}", "non-finite": "{:d}"},
        na_rep="-",
    )


# --- functions of several arrays (the output layer of a huge vocabulary): hidden states and
# class weights in, a loss per row out. `compare` differentiates its first argument only; these
# are scored by `compare_inputs`, with the gradients with respect to every float array listed.

#: name -> (positions of the arguments differentiated, the reference gradients of the sum)
_MULTI_INPUT_GRADS = {
    "chunked_softmax_cross_entropy": ((0, 1), reference.chunked_softmax_cross_entropy_grad),
    "sampled_softmax_loss": ((0, 1, 3), reference.sampled_softmax_loss_grad),
    "nce_loss": ((0, 1, 3), reference.nce_loss_grad),
}


def _ours_inputs(backend, name):
    """Our `backend` implementation of `name` -> (values, gradients of their sum), as NumPy."""
    from xent.builtins import _tensorflow_inputs, _torch_inputs

    module = importlib.import_module(f"xent.{backend}")
    fn = getattr(module, name)
    wrt = _MULTI_INPUT_GRADS[name][0]
    if backend == "torch":
        return lambda *args, **options: _torch_inputs(lambda *a: fn(*a, **options), args, wrt)
    if backend == "tensorflow":
        return lambda *args, **options: _tensorflow_inputs(lambda *a: fn(*a, **options), args, wrt)
    derived = getattr(module, f"{name}_grad")
    return lambda *args, **options: (fn(*args, **options), derived(*args, **options))


def score(label, kind, values, grads, exact, exact_grads):
    """One row of an agreement table: computed (values, grads) against the reference.

    `grads` and `exact_grads` are tuples of arrays (one per differentiated argument, or empty).
    "grad / u" is the largest error of any gradient entry relative to the largest true entry
    of that gradient (at least 1), in units of the dtype's roundoff u.
    """
    values = np.asarray(values)
    finite = np.vectorize(lambda v: bool(np.isfinite(float(v))), otypes=[bool])(exact)
    row = {
        "dtype": str(values.dtype),
        "implementation": label,
        "kind": kind,
        "max ulp": np.max(reference.ulp_error(values, exact), initial=0.0),
        "max rel": np.max(reference.relative_error(values, exact), initial=0.0),
        "grad / u": np.nan,
        "non-finite": int(np.sum(finite & ~np.isfinite(values))),
    }
    if grads is not None and exact_grads is not None:
        worst = 0.0
        for computed, true in zip(grads, exact_grads, strict=True):
            computed, true = np.asarray(computed, np.float64), reference.to_float(true)
            scale = max(1.0, float(np.max(np.abs(true), initial=0.0)))
            worst = max(worst, float(np.max(np.abs(computed - true), initial=0.0)) / scale)
        row["grad / u"] = worst / (np.finfo(values.dtype).eps / 2)
    return row


def compare_inputs(name, args, dtypes=("float32", "float64"), **options):
    """`compare` for the functions of several arrays in `_MULTI_INPUT_GRADS`.

    `args` are the function's positional arguments (NumPy arrays); the floating-point ones are
    cast to each dtype, the integer ones (labels, sampled ids) kept. The gradient column scores
    the gradients with respect to every float argument that carries one (see `score`).
    """
    wrt, reference_grad = _MULTI_INPUT_GRADS[name]
    rows = []
    for dtype in dtypes:
        cast = tuple(
            np.asarray(a).astype(dtype)
            if np.issubdtype(np.asarray(a).dtype, np.floating)
            else np.asarray(a)
            for a in args
        )
        exact = getattr(reference, name)(*cast, **options)
        exact_grads = reference_grad(*cast, **options)
        mine = [(f"xent.{b}.{name}", "ours", _ours_inputs(b, name)) for b in BACKENDS]
        theirs = [(label, "built-in", fn) for label, fn in BUILTINS[name]]
        for label, kind, fn in mine + theirs:
            values, grads = fn(*cast, **options)
            rows.append(score(label, kind, values, grads, exact, exact_grads))
    return pd.DataFrame(rows).set_index(["dtype", "implementation"])
