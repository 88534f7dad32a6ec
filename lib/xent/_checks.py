"""Input validation shared by the three backends.

Every backend hands NumPy views of its inputs to these functions, so NumPy, PyTorch and
TensorFlow reject the same bad input with the same message. Each check names the problem and
where it is (the first offending index), because a silent NaN three layers later is the worst
way to learn that a label was out of range.

The checks run on every call, so the common case (nothing wrong) costs a reduction or two over
the data and no temporary array: a NaN anywhere makes `min` return NaN and `argmax` point at it,
and only when a reduction says something is wrong do the slower element-wise tests run to name
the problem and its first index. `check_logits` (and the checks built on it) return the position
of each row's largest logit, found on the way; the fused NumPy functions use it instead of a
pass of their own.
"""

import numpy as np


class InputError(ValueError):
    """Raised for input a cross-entropy function cannot give a correct answer for."""


def _where(mask):
    """The first index where `mask` is true, as a tuple, for error messages."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _require_float(name, a):
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"{name} must be a floating-point array, got dtype {a.dtype}")


def _require_no_nan(name, a):
    # min propagates NaN: one pass and no temporary when there is none
    if np.issubdtype(a.dtype, np.floating) and a.size and not np.isnan(a.min()):
        return
    if np.isnan(a).any():
        raise InputError(f"{name} contain NaN (first at index {_where(np.isnan(a))})")


def check_logits(logits):
    """Logits with a class axis last: float, no NaN, no +inf, no row that is all -inf.

    -inf is allowed (a class ruled out, as in masking), but +inf makes softmax inf/inf and a
    row of -inf makes it 0/0: there is no right answer to return, so we refuse.

    Returns the index of each row's largest logit (the first, if tied), shape logits.shape[:-1].
    """
    _require_float("logits", logits)
    if logits.ndim == 0:
        raise InputError("logits must have a class axis (the last axis), got a scalar")
    if logits.shape[-1] == 0:
        raise InputError(f"logits have no classes: the last axis of shape {logits.shape} is 0")
    # argmax takes NaN as the largest value, so a row's top entry is finite exactly when the row
    # has no NaN, no +inf and is not all -inf: one pass settles the common case
    top = logits.argmax(axis=-1)
    if np.isfinite(np.take_along_axis(logits, top[..., None], axis=-1)).all():
        return top
    _require_no_nan("logits", logits)
    if np.isposinf(logits).any():
        raise InputError(
            f"logits contain +inf (first at index {_where(np.isposinf(logits))}): "
            "softmax would be inf/inf"
        )
    all_neginf = np.isneginf(logits).all(axis=-1)
    if all_neginf.any():
        raise InputError(
            f"the logits of row {_where(all_neginf)} are all -inf: softmax would be 0/0"
        )
    return top


def check_elementwise_logits(logits):
    """Logits for element-wise (sigmoid) functions: float and no NaN; +-inf are fine."""
    _require_float("logits", logits)
    _require_no_nan("logits", logits)


def _require_same_shape(name, a, other_name, other):
    if other.shape != a.shape:
        raise InputError(
            f"{name} and {other_name} must have the same shape, got {a.shape} and {other.shape}"
        )


def _require_unit_interval(values, prefix, hint=""):
    """Every entry in [0, 1]; the message reads "{prefix} probabilities in [0, 1], got ..."."""
    if np.issubdtype(values.dtype, np.floating) and values.size:
        if values.min() >= 0 and values.max() <= 1:  # two passes, no temporaries
            return
    bad = (values < 0) | (values > 1)
    if bad.any():
        where = _where(bad)
        value = float(values[where])
        got = f"got {value:.6g} at index {where}"
        raise InputError(f"{prefix} probabilities in [0, 1], {got}{hint}")


def distribution_tolerance(dtype):
    """How far from 1 a row of targets may sum: sqrt(eps) of the logits' precision.

    Large enough for probabilities rounded to that precision (float32 soft labels routinely
    miss 1 by a few 1e-8), small enough to catch a row that is not a distribution at all.
    """
    return float(np.sqrt(np.finfo(dtype).eps))


def check_distribution_targets(logits, targets):
    """Targets for softmax cross-entropy: one probability distribution per row (one-hot or soft).

    Returns what `check_logits` returns.
    """
    top = check_logits(logits)
    _require_same_shape("logits", logits, "targets", targets)
    if not np.issubdtype(targets.dtype, np.number) or np.issubdtype(
        targets.dtype, np.complexfloating
    ):
        raise InputError(f"targets must be real numbers, got dtype {targets.dtype}")
    lowest = targets.min() if targets.size else 0  # NaN if any entry is: one pass for both tests
    if np.isnan(lowest) or lowest < 0:
        _require_no_nan("targets", targets)
        if (targets < 0).any():
            raise InputError(
                f"targets must be probabilities, but contain a negative entry "
                f"(first at index {_where(targets < 0)})"
            )
    tol = distribution_tolerance(logits.dtype)
    eps = np.finfo(targets.dtype).eps if np.issubdtype(targets.dtype, np.floating) else 1.0
    if targets.dtype != np.float64 and targets.shape[-1] * eps < tol:
        # Summed in any order, n terms >= 0 in their own precision are off by at most about
        # (n - 1) * u * sum: rows that pass with twice that to spare pass in float64 too, and
        # the float64 sums (a cast of every entry, slow) are only needed to name a bad row.
        sums = targets.sum(axis=-1)
        slack = targets.shape[-1] * eps * sums
        if (np.abs(sums - 1.0) <= tol - slack).all():
            return top
    sums = targets.sum(axis=-1, dtype=np.float64)
    bad = np.abs(sums - 1.0) > tol
    if bad.any():
        row = _where(bad)
        raise InputError(
            f"each row of targets must be a distribution summing to 1 (within {tol:.1e}), "
            f"but row {row} sums to {sums[row]:.6g}"
        )
    return top


def check_labels(logits, labels):
    """Integer class labels, one per row of logits, each in [0, n_classes).

    Returns what `check_logits` returns.
    """
    top = check_logits(logits)
    if np.issubdtype(labels.dtype, np.integer) and labels.shape != logits.shape[:-1]:
        raise InputError(
            f"labels must have the shape of logits without the class axis, {logits.shape[:-1]}, "
            f"got {labels.shape}"
        )
    _require_class_ids("labels", labels, logits.shape[:-1], logits.shape[-1])
    return top


def check_binary_targets(logits, targets):
    """Targets for element-wise sigmoid cross-entropy: same shape as logits, each in [0, 1]."""
    check_elementwise_logits(logits)
    _require_same_shape("logits", logits, "targets", targets)
    _require_no_nan("targets", targets)
    _require_unit_interval(targets, "targets of a sigmoid cross-entropy are")


def check_fractions(name, values):
    """Rows of fractions, one distribution per row: 2-D, real, finite, >= 0, rows summing to 1.

    For data rather than logits: the targets, true fractions and predictions of `xent.fractions`.
    The tolerance on the row sums is that of the array's own precision (see
    `distribution_tolerance`); integer arrays (counts, most likely) are held to float64's.
    """
    _require_finite_table(name, values, "classes")
    if (values < 0).any():
        raise InputError(
            f"{name} must be fractions, but contain a negative entry "
            f"(first at index {_where(values < 0)})"
        )
    sums = values.sum(axis=-1, dtype=np.float64)
    floating = np.issubdtype(values.dtype, np.floating)
    tol = distribution_tolerance(values.dtype if floating else np.float64)
    bad = np.abs(sums - 1.0) > tol
    if bad.any():
        row = _where(bad)
        hint = "" if floating else " (counts? divide them by the group size)"
        raise InputError(
            f"each row of {name} must be fractions summing to 1 (within {tol:.1e}), "
            f"but row {row} sums to {sums[row]:.6g}{hint}"
        )


def _require_finite_table(name, values, columns):
    """A 2-D array (samples, `columns`) of finite real numbers."""
    if values.ndim != 2:
        raise InputError(
            f"{name} must be a 2-D array (samples, {columns}), got shape {values.shape}"
        )
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(
        values.dtype, np.complexfloating
    ):
        raise InputError(f"{name} must be real numbers, got dtype {values.dtype}")
    _require_no_nan(name, values)
    if np.isinf(values).any():
        raise InputError(f"{name} contain inf (first at index {_where(np.isinf(values))})")


def check_features(name, values):
    """Features for a model: a 2-D array (samples, features) of finite real numbers."""
    _require_finite_table(name, values, "features")


def check_probabilities_and_targets(probs, targets):
    """Binary cross-entropy from probabilities: float probs and targets, same shape, in [0, 1].

    A probability outside [0, 1] (often a logit passed by mistake) has no logarithm to take.
    """
    _require_float("probs", probs)
    _require_no_nan("probs", probs)
    _require_same_shape("probs", probs, "targets", targets)
    _require_no_nan("targets", targets)
    hint = " (logits? use sigmoid_cross_entropy)"
    _require_unit_interval(probs, "probs of a binary cross-entropy must be", hint)
    _require_unit_interval(targets, "targets of a binary cross-entropy must be")


def _require_weights(name, weights, shape, what):
    """Real, finite, >= 0 weights that broadcast to `shape` (the shape of what they weigh)."""
    if not np.issubdtype(weights.dtype, np.number) or np.issubdtype(
        weights.dtype, np.complexfloating
    ):
        raise InputError(f"{name} must be real numbers, got dtype {weights.dtype}")
    try:
        fits = np.broadcast_shapes(weights.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise InputError(
            f"{name} of shape {weights.shape} does not broadcast to the {what} shape {shape}"
        )
    _require_no_nan(name, weights)
    if np.isinf(weights).any():
        raise InputError(
            f"{name} must be finite, but contain inf (first at index {_where(np.isinf(weights))})"
        )
    if (weights < 0).any():
        where = _where(weights < 0) if weights.ndim else ()
        raise InputError(f"{name} must be >= 0, got {float(weights[where]):.6g} at index {where}")


def check_pos_weight(logits, pos_weight):
    """A positive-class weight: real, finite, >= 0, a scalar or broadcast against the logits
    (a vector of one weight per label for multi-label logits)."""
    _require_weights("pos_weight", pos_weight, logits.shape, "logits")


REDUCTION_DENOMINATORS = ("count", "weights", "nonzero", "sum")


def check_reduction(losses, weights, denominator):
    """Losses to reduce (float, no NaN), optional weights that broadcast to them (finite,
    >= 0), and a denominator from `REDUCTION_DENOMINATORS`."""
    if not isinstance(denominator, str) or denominator not in REDUCTION_DENOMINATORS:
        raise InputError(
            f"denominator must be one of {', '.join(map(repr, REDUCTION_DENOMINATORS))}, "
            f"got {denominator!r}"
        )
    _require_float("losses", losses)
    _require_no_nan("losses", losses)
    if weights is not None:
        _require_weights("weights", weights, losses.shape, "losses")


# --- huge vocabularies: the output layer's inputs (hidden states, class weights) and sampled ids


def _require_class_ids(name, ids, shape, n_classes):
    """Integer class ids of the given shape, each in [0, n_classes)."""
    if not np.issubdtype(ids.dtype, np.integer):
        raise InputError(f"{name} must be integers (class indices), got dtype {ids.dtype}")
    if ids.shape != shape:
        raise InputError(f"{name} must have shape {shape}, got {ids.shape}")
    bad = (ids < 0) | (ids >= n_classes)
    if bad.any():
        where = _where(bad)
        raise InputError(
            f"{name[:-1] if name.endswith('s') else name} {int(ids[where])} at index {where} "
            f"is out of range: there are {n_classes} classes, so {name} must be in "
            f"[0, {n_classes - 1}]"
        )


def _require_output_layer(hidden, hidden_name, weight, weight_name):
    """hidden (N, H) and weight (V, H): finite, floating point, the same dtype and H."""
    _require_finite_table(hidden_name, hidden, "features")
    _require_finite_table(weight_name, weight, "features")
    _require_float(hidden_name, hidden)
    _require_float(weight_name, weight)
    if hidden.dtype != weight.dtype:
        raise InputError(
            f"{hidden_name} and {weight_name} must have the same dtype, "
            f"got {hidden.dtype} and {weight.dtype}"
        )
    if hidden.shape[1] != weight.shape[1]:
        raise InputError(
            f"{hidden_name} {hidden.shape} and {weight_name} {weight.shape} must have the same "
            f"number of features (columns): logits = {hidden_name} @ {weight_name}.T"
        )


def check_chunked(hidden, weight, labels, chunk_size):
    """Exact cross-entropy of logits = hidden @ weight.T, computed in vocabulary chunks."""
    _require_output_layer(hidden, "hidden", weight, "weight")
    _require_class_ids("labels", labels, hidden.shape[:1], weight.shape[0])
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise InputError(f"chunk_size must be an integer, got {chunk_size!r}")
    if chunk_size < 1:
        raise InputError(f"chunk_size must be at least 1, got {chunk_size}")


def check_sampled(
    weights, biases, labels, inputs, sampled, true_expected_count, sampled_expected_count
):
    """The inputs of a sampled loss (TF's argument order, one true label per row)."""
    _require_output_layer(inputs, "inputs", weights, "weights")
    n, n_classes = inputs.shape[0], weights.shape[0]
    _require_float("biases", biases)
    if biases.shape != (n_classes,):
        raise InputError(f"biases must have shape ({n_classes},), got {biases.shape}")
    _require_no_nan("biases", biases)
    _require_class_ids("labels", labels, (n,), n_classes)
    if sampled.ndim != 1:
        raise InputError(f"sampled must be a 1-D array of class ids, got shape {sampled.shape}")
    _require_class_ids("sampled", sampled, sampled.shape, n_classes)
    for name, count, shape in (
        ("true_expected_count", true_expected_count, (n,)),
        ("sampled_expected_count", sampled_expected_count, sampled.shape),
    ):
        if count.shape != shape:
            raise InputError(f"{name} must have shape {shape}, got {count.shape}")
        _require_no_nan(name, count)
        if count.size and not (count.min() > 0 and np.isfinite(count.max())):
            where = _where(~((count > 0) & np.isfinite(count)))
            raise InputError(
                f"{name} must be positive and finite (its log is subtracted), "
                f"got {float(count[where]):.6g} at index {where}"
            )


# --- label smoothing, focal losses, poly-1: their parameters


def _require_real_number(name, value):
    """A plain real number (Python or NumPy scalar, not bool), returned as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InputError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if np.isnan(value):
        raise InputError(f"{name} must be a real number, got nan")
    return value


def check_smoothing(targets, eps, binary):
    """Targets to smooth (float, in [0, 1], a class axis unless binary) and eps in [0, 1]."""
    eps = _require_real_number("eps", eps)
    if not 0 <= eps <= 1:
        raise InputError(f"label smoothing eps must be in [0, 1], got {eps:.6g}")
    _require_float("targets", targets)
    if not binary and (targets.ndim == 0 or targets.shape[-1] == 0):
        raise InputError(
            f"targets to smooth over classes need a class axis (the last), got shape "
            f"{targets.shape}; use binary=True for element-wise targets"
        )
    _require_no_nan("targets", targets)
    _require_unit_interval(targets, "targets to smooth must be")


def check_focal(gamma, alpha=None, n_classes=None):
    """gamma >= 0 and finite; alpha None, or in [0, 1] (a scalar, or one per class if n_classes).

    For the sigmoid focal loss (n_classes None) alpha weighs the positives and 1 - alpha the
    negatives, so it must be a scalar in [0, 1]; the softmax one takes a scalar or one weight per
    class, each in [0, 1].
    """
    gamma = _require_real_number("gamma", gamma)
    if not 0 <= gamma < np.inf:
        raise InputError(f"gamma must be finite and >= 0 (a focusing exponent), got {gamma:.6g}")
    if alpha is None:
        return
    values = np.asarray(alpha)
    if n_classes is None and values.ndim != 0:
        raise InputError(
            f"alpha must be a scalar for the sigmoid focal loss, got shape {values.shape}"
        )
    if values.ndim not in (0, 1) or (values.ndim == 1 and values.shape != (n_classes,)):
        raise InputError(
            f"alpha must be a scalar or one weight per class, shape ({n_classes},), "
            f"got shape {values.shape}"
        )
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(
        values.dtype, np.complexfloating
    ):
        raise InputError(f"alpha must be real numbers, got dtype {values.dtype}")
    _require_no_nan("alpha", values)
    bad = (values < 0) | (values > 1)
    if bad.any():
        where = _where(np.atleast_1d(bad))
        got = float(np.atleast_1d(values)[where])
        raise InputError(f"alpha must be in [0, 1], got {got:.6g} at index {where}")


def check_poly1_epsilon(epsilon):
    """epsilon >= -1 and finite: below -1, -log p_t + epsilon (1 - p_t) rises with p_t."""
    epsilon = _require_real_number("epsilon", epsilon)
    if not -1 <= epsilon < np.inf:
        raise InputError(
            f"epsilon must be finite and >= -1 (below -1 poly-1 is not decreasing in p_t), "
            f"got {epsilon:.6g}"
        )
