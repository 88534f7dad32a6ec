"""Ground truth in arbitrary precision (mpmath), for the tests and the accuracy plots.

Every function takes NumPy arrays (the inputs are exact: each float is an mpmath number) and
returns a NumPy array of `mpmath.mpf` holding the true value to `DIGITS` significant digits, far
beyond float64. Names follow `xent.numpy`, gradients included. Use `to_float` to round a result,
`ulp_error` and `relative_error` to score a computed result against it, and the `condition_*`
functions for the error that no algorithm can avoid.
"""

import mpmath
import numpy as np

#: Working precision in decimal digits; float64 has about 16.
DIGITS = 60

_ZERO, _ONE = mpmath.mpf(0), mpmath.mpf(1)


def _mp(value):
    return mpmath.mpf(float(value))


def _rows(a):
    """The rows of `a` along its last axis, and the shape to give the per-row results."""
    a = np.asarray(a)
    return a.reshape(-1, a.shape[-1]), a.shape[:-1]


def _per_row(fn, logits, other=None, keep_class_axis=False):
    rows, shape = _rows(logits)
    others = [None] * len(rows) if other is None else np.asarray(other).reshape(len(rows), -1)
    with mpmath.workdps(DIGITS):
        out = [fn([_mp(v) for v in row], o) for row, o in zip(rows, others, strict=True)]
    out_shape = shape + (rows.shape[-1],) if keep_class_axis else shape
    result = np.empty(len(out) * (rows.shape[-1] if keep_class_axis else 1), dtype=object)
    result[:] = [v for r in out for v in r] if keep_class_axis else out
    return result.reshape(out_shape)


def _elementwise(fn, logits, other=None):
    x = np.asarray(logits)
    y = np.zeros_like(x) if other is None else np.broadcast_to(other, x.shape)
    with mpmath.workdps(DIGITS):
        vals = [fn(_mp(a), _mp(b)) for a, b in zip(x.ravel(), y.ravel(), strict=True)]
    result = np.empty(len(vals), dtype=object)
    result[:] = vals
    return result.reshape(x.shape)


def _neg_log_softmax(x):
    """[lse(x) - x_j for each j], each as (a - x_j) + log1p(s): a sum of two terms >= 0.

    Even at 60 digits, log(1 + s) would round 1 + s to 1 once s < 1e-60 (logits 140 apart),
    and the loss of a confident row is all in s; mpmath's log1p keeps it.
    """
    a = max(x)
    k = x.index(a)
    log1p_s = mpmath.log1p(mpmath.fsum(mpmath.exp(v - a) for i, v in enumerate(x) if i != k))
    return [(a - v) + log1p_s for v in x]


def _lse(x):
    return max(x) + _neg_log_softmax(x)[x.index(max(x))]


def _softmax(x):
    return [mpmath.exp(-v) for v in _neg_log_softmax(x)]


def _xent(x, y):
    """-sum y_j log p_j, with the terms where y_j = 0 left out (0 * log 0 = 0)."""
    nls = _neg_log_softmax(x)
    return mpmath.fsum(_mp(w) * v for v, w in zip(nls, y, strict=True) if w != 0)


def _sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


def _log_sigmoid(x):
    return -mpmath.log1p(mpmath.exp(-x))


def logsumexp(logits):
    return _per_row(lambda x, _: _lse(x), logits)


def softmax(logits):
    return _per_row(lambda x, _: _softmax(x), logits, keep_class_axis=True)


def log_softmax(logits):
    return _per_row(lambda x, _: [-v for v in _neg_log_softmax(x)], logits, keep_class_axis=True)


def sigmoid(logits):
    return _elementwise(lambda x, _: _sigmoid(x), logits)


def log_sigmoid(logits):
    return _elementwise(lambda x, _: _log_sigmoid(x), logits)


def softmax_cross_entropy(logits, targets):
    return _per_row(_xent, logits, targets)


def sparse_softmax_cross_entropy(logits, labels):
    labels = np.asarray(labels)[..., None]
    return _per_row(lambda x, k: _neg_log_softmax(x)[int(k[0])], logits, labels)


def _binary_xent(x, y):
    loss = _ZERO
    if y != 0:
        loss -= y * _log_sigmoid(x)
    if y != 1:
        loss -= (1 - y) * _log_sigmoid(-x)
    return loss


def sigmoid_cross_entropy(logits, targets):
    return _elementwise(_binary_xent, logits, targets)


def _xent_grad(x, y):
    """p_j * sum(y) - y_j, without cancellation at the dominant class.

    There p_k = 1 - c with c = sum of the other p_j, which may be far below 1e-60, so
    p_k * sum(y) - y_k is computed as (sum(y) - y_k) - c * sum(y): every other entry has
    p_j <= 1/2 and no such problem.
    """
    y = [_mp(w) for w in y]
    total = mpmath.fsum(y)
    p = _softmax(x)
    k = x.index(max(x))
    grad = [q * total - w for q, w in zip(p, y, strict=True)]
    complement = mpmath.fsum(q for j, q in enumerate(p) if j != k)
    grad[k] = (total - y[k]) - complement * total
    return grad


def softmax_cross_entropy_grad(logits, targets):
    return _per_row(_xent_grad, logits, targets, keep_class_axis=True)


def sparse_softmax_cross_entropy_grad(logits, labels):
    def grad(x, k):
        return _xent_grad(x, [1 if j == int(k[0]) else 0 for j in range(len(x))])

    return _per_row(grad, logits, np.asarray(labels)[..., None], keep_class_axis=True)


def sigmoid_cross_entropy_grad(logits, targets):
    return _elementwise(lambda x, y: _sigmoid(x) - y, logits, targets)


def _kl(x, y):
    """sum y_j (log y_j - log p_j), with the terms where y_j = 0 left out (0 * log 0 = 0)."""
    nls = _neg_log_softmax(x)
    terms = (_mp(w) * (mpmath.log(_mp(w)) + v) for v, w in zip(nls, y, strict=True) if w != 0)
    return mpmath.fsum(terms)


def kl_divergence(logits, targets):
    return _per_row(_kl, logits, targets)


def kl_divergence_grad(logits, targets):
    """The same as softmax_cross_entropy_grad: the entropy of the targets has no logits in it."""
    return softmax_cross_entropy_grad(logits, targets)


# --- condition numbers: the relative error that rounding the inputs alone can cause, per unit
# roundoff. An algorithm is forward stable when its error is a modest multiple of cond * u.


def _ratio(numerator, denominator):
    """numerator / denominator, with 0/0 = 0 (an exact zero stays exact) and x/0 = inf."""
    if denominator == 0:
        return _ZERO if numerator == 0 else mpmath.inf
    return numerator / denominator


def condition_logsumexp(logits):
    """sum_i |x_i| p_i / |lse(x)|  (Blanchard, Higham & Higham 2021)."""

    def cond(x, _):
        lse, p = _lse(x), _softmax(x)
        weight = mpmath.fsum(abs(v) * q for v, q in zip(x, p, strict=True) if q != 0)
        return _ratio(weight, abs(lse))

    return np.array(_per_row(cond, logits).tolist(), dtype=float)


def condition_softmax_cross_entropy(logits, targets):
    """sum_j |x_j| |g_j| / L, g the gradient: the loss's sensitivity to relative changes of x."""

    def cond(x, y):
        grad, loss = _xent_grad(x, y), _xent(x, y)
        terms = (abs(v) * abs(g) for v, g in zip(x, grad, strict=True) if abs(v) != mpmath.inf)
        return _ratio(mpmath.fsum(terms), loss)

    return np.array(_per_row(cond, logits, targets).tolist(), dtype=float)


def condition_sparse_softmax_cross_entropy(logits, labels):
    logits = np.asarray(logits)
    onehot = np.eye(logits.shape[-1])[np.asarray(labels)]
    return condition_softmax_cross_entropy(logits, onehot)


# --- scoring a computed result against the truth


def to_float(exact, dtype=np.float64):
    """Round an array of mpf to `dtype` (correctly rounded to float64 first)."""
    return (
        np.array([float(v) for v in np.ravel(exact)], dtype=np.float64)
        .astype(dtype)
        .reshape(np.shape(exact))
    )


def ulp(exact, dtype):
    """The spacing of `dtype` numbers at each exact value (the subnormal spacing near 0)."""
    info = np.finfo(dtype)
    smallest = mpmath.ldexp(1, int(info.minexp) - int(info.nmant))

    def one(v):
        if not mpmath.isfinite(v) or abs(v) < mpmath.mpf(float(info.tiny)):
            return smallest
        return mpmath.ldexp(1, int(mpmath.floor(mpmath.log(abs(v), 2))) - int(info.nmant))

    with mpmath.workdps(DIGITS):
        return np.array([one(v) for v in np.ravel(exact)], dtype=object).reshape(np.shape(exact))


def _scored(computed, exact, scale):
    """|computed - exact| / scale(exact), entry by entry, at the reference's precision."""
    computed = np.asarray(computed)
    out = np.empty(computed.size, dtype=float)
    with mpmath.workdps(DIGITS):
        for i, (c, r) in enumerate(zip(computed.ravel(), np.ravel(exact), strict=True)):
            c, d = _mp(c), scale(r)
            if mpmath.isnan(c):
                out[i] = np.nan
            elif mpmath.isinf(r) or mpmath.isinf(c):
                out[i] = 0.0 if c == r else np.inf
            else:
                out[i] = float(abs(c - r) / d) if d != 0 else (0.0 if c == r else np.inf)
    return out.reshape(computed.shape)


def ulp_error(computed, exact):
    """|computed - exact| in units in the last place of the computed array's dtype."""
    dtype = np.asarray(computed).dtype
    return _scored(computed, exact, lambda r: ulp(np.array([r], dtype=object), dtype)[0])


def relative_error(computed, exact):
    """|computed - exact| / |exact| (0 where both are 0, inf where only exact is 0)."""
    return _scored(computed, exact, abs)


# --- binary cross-entropy from probabilities (the first argument is p, not a logit)


def _binary_xent_from_probs(p, y):
    loss = _ZERO
    if y != 0:
        loss -= y * (mpmath.log(p) if p != 0 else -mpmath.inf)
    if y != 1:
        loss -= (1 - y) * (mpmath.log1p(-p) if p != 1 else -mpmath.inf)
    return loss


def _binary_xent_from_probs_grad(p, y):
    if p == 0:
        return _ONE if y == 0 else -mpmath.inf
    if p == 1:
        return -_ONE if y == 1 else mpmath.inf
    return (p - y) / (p * (1 - p))


def binary_cross_entropy_from_probs(probs, targets):
    """-(y log p + (1 - y) log(1 - p)) with 0 log 0 = 0; probs (not logits) first."""
    return _elementwise(_binary_xent_from_probs, probs, targets)


def binary_cross_entropy_from_probs_grad(probs, targets):
    """d/dp = (p - y) / (p (1 - p)); at p = 0 or 1 the one-sided limit (+-1 or +-inf)."""
    return _elementwise(_binary_xent_from_probs_grad, probs, targets)
