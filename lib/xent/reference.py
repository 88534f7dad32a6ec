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


def sigmoid_cross_entropy(logits, targets, pos_weight=None):
    if pos_weight is not None:
        return _positive_weighted(_pos_weighted_binary_xent, logits, targets, pos_weight)
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


def sigmoid_cross_entropy_grad(logits, targets, pos_weight=None):
    if pos_weight is not None:
        return _positive_weighted(_pos_weighted_binary_xent_grad, logits, targets, pos_weight)
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


# --- sigmoid cross-entropy with a positive-class weight q (pos_weight)


def _positive_weighted(fn, logits, targets, pos_weight):
    """fn(x, y, q) element by element, q broadcast against the logits."""
    x = np.asarray(logits)
    y = np.broadcast_to(targets, x.shape)
    q = np.broadcast_to(pos_weight, x.shape)
    with mpmath.workdps(DIGITS):
        vals = [
            fn(_mp(a), _mp(b), _mp(c))
            for a, b, c in zip(x.ravel(), y.ravel(), q.ravel(), strict=True)
        ]
    result = np.empty(len(vals), dtype=object)
    result[:] = vals
    return result.reshape(x.shape)


def _pos_weighted_binary_xent(x, y, q):
    """-(q y log sigmoid(x) + (1 - y) log sigmoid(-x)), a term with weight 0 left out."""
    loss = _ZERO
    if q * y != 0:
        loss -= q * y * _log_sigmoid(x)
    if y != 1:
        loss -= (1 - y) * _log_sigmoid(-x)
    return loss


def _pos_weighted_binary_xent_grad(x, y, q):
    """(1 - y) sigmoid(x) - q y sigmoid(-x)."""
    return (1 - y) * _sigmoid(x) - q * y * _sigmoid(-x)


# --- huge vocabularies: the output layer's logits, computed exactly (small sizes only)


def _objects(rows):
    out = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=object)
    for i, row in enumerate(rows):
        out[i, :] = row
    return out


def _exact_logits(hidden, weight, ids=None):
    """[[h_i . w_j for j in ids] for each row i], each dot product exact (mpmath fsum)."""
    h = [[_mp(v) for v in row] for row in np.asarray(hidden)]
    w = np.asarray(weight)
    ids = range(len(w)) if ids is None else ids
    cols = [[_mp(v) for v in w[j]] for j in ids]
    return [[mpmath.fsum(a * b for a, b in zip(hi, c, strict=True)) for c in cols] for hi in h]


def _chain_rule(g, hidden, weight, ids):
    """d/d hidden and d/d weight from d loss / d (h_i . w_ids[j]) = g[i][j]."""
    h = [[_mp(v) for v in row] for row in np.asarray(hidden)]
    w = np.asarray(weight)
    grad_hidden = [
        [mpmath.fsum(g[i][j] * _mp(w[c, d]) for j, c in enumerate(ids)) for d in range(w.shape[1])]
        for i in range(len(h))
    ]
    grad_weight = [[_ZERO] * w.shape[1] for _ in range(w.shape[0])]
    for i, hi in enumerate(h):
        for j, c in enumerate(ids):
            grad_weight[c] = [a + g[i][j] * b for a, b in zip(grad_weight[c], hi, strict=True)]
    return _objects(grad_hidden), _objects(grad_weight)


def chunked_softmax_cross_entropy(hidden, weight, labels, chunk_size=None):
    """-log softmax(hidden @ weight.T)[label] of the exact logits (chunk_size is ignored)."""
    with mpmath.workdps(DIGITS):
        z = _exact_logits(hidden, weight)
        vals = [_neg_log_softmax(row)[int(t)] for row, t in zip(z, np.asarray(labels), strict=True)]
    out = np.empty(len(vals), dtype=object)
    out[:] = vals
    return out


def chunked_softmax_cross_entropy_grad(hidden, weight, labels, chunk_size=None):
    """(d/d hidden, d/d weight) of the sum: g = softmax - onehot, then g @ W and g.T @ h."""
    with mpmath.workdps(DIGITS):
        z = _exact_logits(hidden, weight)
        g = [
            _xent_grad(row, [1 if j == int(t) else 0 for j in range(len(row))])
            for row, t in zip(z, np.asarray(labels), strict=True)
        ]
        return _chain_rule(g, hidden, weight, list(range(np.shape(weight)[0])))


def _sampled_logits(weights, biases, labels, inputs, sampled, true_count, sampled_count, remove):
    """The exact [o_t - log Q_t, o_S - log Q_S] rows (-inf at removed accidental hits)."""
    labels, sampled = np.asarray(labels), np.asarray(sampled)
    b = np.asarray(biases)
    rows = []
    for i, t in enumerate(labels):
        ids = [int(t)] + [int(j) for j in sampled]
        dots = _exact_logits(np.asarray(inputs)[i : i + 1], weights, ids)[0]
        counts = [np.asarray(true_count)[i]] + list(np.asarray(sampled_count))
        row = [
            d + _mp(b[c]) - mpmath.log(_mp(q)) for d, c, q in zip(dots, ids, counts, strict=True)
        ]
        if remove:
            hits = zip(row[1:], ids[1:], strict=True)
            row = [row[0]] + [-mpmath.inf if c == t else v for v, c in hits]
        rows.append(row)
    return rows


def _sampled_grads(g, weights, labels, inputs, sampled):
    """(d/d weights, d/d biases, d/d inputs) from d loss / d (corrected logits) rows g."""
    w = np.asarray(weights)
    grads_h, grads_w, grads_b = [], np.zeros(w.shape, dtype=object), [_ZERO] * w.shape[0]
    grads_w[:] = _ZERO
    for i, t in enumerate(np.asarray(labels)):
        ids = [int(t)] + [int(j) for j in np.asarray(sampled)]
        gh, gw = _chain_rule([g[i]], np.asarray(inputs)[i : i + 1], w, ids)
        grads_h.append(list(gh[0]))
        grads_w = grads_w + gw
        for j, c in enumerate(ids):
            grads_b[c] += g[i][j]
    out_b = np.empty(len(grads_b), dtype=object)
    out_b[:] = grads_b
    return grads_w, out_b, _objects(grads_h)


def _as_objects(values):
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def sampled_softmax_loss(*args, remove_accidental_hits=True):
    """Softmax cross-entropy of the exact corrected logits, the true class at index 0."""
    with mpmath.workdps(DIGITS):
        rows = _sampled_logits(*args, remove_accidental_hits)
        return _as_objects([_neg_log_softmax(row)[0] for row in rows])


def sampled_softmax_loss_grad(*args, remove_accidental_hits=True):
    """(d/d weights, d/d biases, d/d inputs) of the sum of `sampled_softmax_loss`."""
    with mpmath.workdps(DIGITS):
        rows = _sampled_logits(*args, remove_accidental_hits)
        g = [_xent_grad(row, [1] + [0] * (len(row) - 1)) for row in rows]
        return _sampled_grads(g, args[0], args[2], args[3], args[4])


def nce_loss(*args, remove_accidental_hits=False):
    """-log sigmoid(x_t) - sum_j log sigmoid(-x_j) of the exact corrected logits x."""
    with mpmath.workdps(DIGITS):
        rows = _sampled_logits(*args, remove_accidental_hits)
        return _as_objects(
            [
                mpmath.fsum([-_log_sigmoid(row[0])] + [-_log_sigmoid(-v) for v in row[1:]])
                for row in rows
            ]
        )


def nce_loss_grad(*args, remove_accidental_hits=False):
    """(d/d weights, d/d biases, d/d inputs) of the sum of `nce_loss`: d/dx = sigmoid(x) - y."""
    with mpmath.workdps(DIGITS):
        rows = _sampled_logits(*args, remove_accidental_hits)
        g = [[_sigmoid(row[0]) - 1] + [_sigmoid(v) for v in row[1:]] for row in rows]
        return _sampled_grads(g, args[0], args[2], args[3], args[4])


# --- focal losses and poly-1 (gamma, alpha, epsilon as in `xent.numpy`)


def _alpha_t(alpha, y):
    return _ONE if alpha is None else _mp(alpha) * y + (1 - _mp(alpha)) * (1 - y)


def _sigmoid_focal(x, y, gamma, alpha):
    q = y * _sigmoid(-x) + (1 - y) * _sigmoid(x)  # 1 - p_t
    weight = _alpha_t(alpha, y) * mpmath.power(q, _mp(gamma))  # 0 ** 0 = 1
    return _ZERO if weight == 0 else weight * _binary_xent(x, y)


def _sigmoid_focal_grad(x, y, gamma, alpha):
    sig, sig_neg = _sigmoid(x), _sigmoid(-x)
    q = y * sig_neg + (1 - y) * sig
    weight = _alpha_t(alpha, y) * mpmath.power(q, _mp(gamma))
    if weight == 0:
        return _ZERO
    focal = _ZERO
    if gamma != 0 and sig * sig_neg != 0:
        focal = _mp(gamma) * (1 - 2 * y) * (sig * sig_neg / q) * _binary_xent(x, y)
    return weight * ((sig - y) + focal)


def sigmoid_focal_loss(logits, targets, gamma=2.0, alpha=None):
    """alpha_t (1 - p_t)^gamma BCE, 1 - p_t = y sigmoid(-x) + (1 - y) sigmoid(x)."""
    return _elementwise(lambda x, y: _sigmoid_focal(x, y, gamma, alpha), logits, targets)


def sigmoid_focal_loss_grad(logits, targets, gamma=2.0, alpha=None):
    return _elementwise(lambda x, y: _sigmoid_focal_grad(x, y, gamma, alpha), logits, targets)


def _focal_terms(x, y, alpha):
    """(w_j = alpha_j y_j, p_j, q_j = 1 - p_j as the sum of the other p_i, -log p_j)."""
    n = len(x)
    alphas = [_ONE] * n if alpha is None else [_mp(a) for a in np.broadcast_to(alpha, (n,))]
    w = [a * _mp(v) for a, v in zip(alphas, y, strict=True)]
    nls = _neg_log_softmax(x)
    p = [mpmath.exp(-v) for v in nls]
    q = [mpmath.fsum(v for i, v in enumerate(p) if i != j) for j in range(n)]
    return w, p, q, nls


def _softmax_focal(x, y, gamma, alpha):
    w, _, q, nls = _focal_terms(x, y, alpha)
    g = _mp(gamma)
    return mpmath.fsum(
        wj * mpmath.power(qj, g) * v for wj, qj, v in zip(w, q, nls, strict=True) if wj != 0
    )


def _softmax_focal_grad(x, y, gamma, alpha):
    """p * sum(c) - c, c_j = w_j q_j^gamma (1 + gamma p_j nll_j / q_j) (nll_j / q_j -> 1)."""
    w, p, q, nls = _focal_terms(x, y, alpha)
    g = _mp(gamma)
    c = []
    for wj, pj, qj, v in zip(w, p, q, nls, strict=True):
        if wj == 0:
            c.append(_ZERO)
            continue
        ratio = _ZERO if pj == 0 else pj * (v / qj if qj != 0 else _ONE)
        c.append(wj * mpmath.power(qj, g) * (1 + g * ratio))
    total = mpmath.fsum(c)
    return [pj * total - cj for pj, cj in zip(p, c, strict=True)]


def softmax_focal_loss(logits, targets, gamma=2.0, alpha=None):
    """-sum_j alpha_j y_j (1 - p_j)^gamma log p_j per row."""
    return _per_row(lambda x, y: _softmax_focal(x, y, gamma, alpha), logits, targets)


def softmax_focal_loss_grad(logits, targets, gamma=2.0, alpha=None):
    fn = lambda x, y: _softmax_focal_grad(x, y, gamma, alpha)  # noqa: E731
    return _per_row(fn, logits, targets, keep_class_axis=True)


def _poly1(x, y, epsilon):
    _, _, q, nls = _focal_terms(x, y, None)
    terms = [(_mp(v) * (n + _mp(epsilon) * qj)) for v, n, qj in zip(y, nls, q, strict=True)]
    return mpmath.fsum(t for t, v in zip(terms, y, strict=True) if v != 0)


def _poly1_grad(x, y, epsilon):
    y = [_mp(v) for v in y]
    p = _softmax(x)
    total, p_t = mpmath.fsum(y), mpmath.fsum(v * pj for v, pj in zip(y, p, strict=True))
    eps = _mp(epsilon)
    return [pj * total - v + eps * pj * (p_t - v) for v, pj in zip(y, p, strict=True)]


def poly1_cross_entropy(logits, targets, epsilon=1.0):
    """sum_j y_j (-log p_j + epsilon (1 - p_j)): CE + epsilon (1 - p_t) for targets summing to 1."""
    return _per_row(lambda x, y: _poly1(x, y, epsilon), logits, targets)


def poly1_cross_entropy_grad(logits, targets, epsilon=1.0):
    fn = lambda x, y: _poly1_grad(x, y, epsilon)  # noqa: E731
    return _per_row(fn, logits, targets, keep_class_axis=True)
