"""The cross-entropy family in NumPy, with the gradients derived in the book.

Same public names and signatures as `xent.torch` and `xent.tensorflow`. The class axis is last;
losses are per example (or per element for sigmoid cross-entropy), unreduced. Inputs are taken
with `np.asarray` and must already be floating point: float32 stays float32, float64 stays float64.

The log-sum-exp at the heart of every softmax function is computed in the form of Blanchard,
Higham & Higham (2021): with a = max(x) and k its position,

    logsumexp(x) = a + log1p(s),    s = sum over i != k of exp(x_i - a).

Leaving the largest term (exactly 1) out of the sum and adding it back with `log1p` keeps every
digit of s, which is the whole loss when the true class dominates.

The `*_value_and_grad` functions are NumPy-only: the loss and its gradient together, with as
little memory traffic as NumPy allows. The softmax ones need a single logits-sized buffer, which
becomes the gradient (the performance appendix derives and measures them).
"""

import numpy as np

from xent import _checks


def _lse_parts(logits):
    """The pieces of log-sum-exp: a = max (kept as an axis), z = logits - a, and s.

    z <= 0 with z = 0 at the maximum; s sums exp(z) over every class but the first maximal one,
    so that logsumexp = a + log1p(s) and softmax = exp(z) / (1 + s).
    """
    a = logits.max(axis=-1, keepdims=True)
    z = logits - a
    e = np.exp(z)
    np.put_along_axis(e, z.argmax(axis=-1)[..., None], 0.0, axis=-1)
    s = e.sum(axis=-1, keepdims=True)
    return a, z, s


def _times(weight, value):
    """weight * value, with 0 * inf taken as 0: a class with no weight contributes nothing."""
    with np.errstate(invalid="ignore"):
        return np.where(weight == 0, 0, weight * value)


def _softmax(logits):
    _, z, s = _lse_parts(logits)
    return np.exp(z) / (1 + s)


def _abs_and_relus(logits):
    """|x|, max(x, 0) and max(-x, 0), each taken from the x >= 0 side at x = 0.

    The sigmoid functions add these kinked pieces into smooth results; autograd only gets the
    derivative at 0 right if every piece uses the same side of the kink (torch's and TF's abs
    have derivative 0 there, their max/clamp pick a side of their own).
    """
    nonneg = logits >= 0
    return (
        np.where(nonneg, logits, -logits),
        np.where(nonneg, logits, 0),
        np.where(nonneg, 0, -logits),
    )


def logsumexp(logits):
    """log(sum(exp(logits))) over the last axis, without overflow and without losing s."""
    logits = np.asarray(logits)
    _checks.check_logits(logits)
    a, _, s = _lse_parts(logits)
    return (a + np.log1p(s))[..., 0]


def softmax(logits):
    """exp(logits) normalised over the last axis; the division form, not exp(x - lse)."""
    logits = np.asarray(logits)
    _checks.check_logits(logits)
    return _softmax(logits)


def log_softmax(logits):
    """log(softmax(logits)) = (x - a) - log1p(s): exact 0 shift, no log of a rounded 1."""
    logits = np.asarray(logits)
    _checks.check_logits(logits)
    _, z, s = _lse_parts(logits)
    return z - np.log1p(s)


def sigmoid(logits):
    """1 / (1 + exp(-x)), element-wise, without overflow for either sign of x."""
    logits = np.asarray(logits)
    _checks.check_elementwise_logits(logits)
    abs_x, _, _ = _abs_and_relus(logits)
    e = np.exp(-abs_x)  # in (0, 1]: never overflows
    return np.where(logits >= 0, 1, e) / (1 + e)


def log_sigmoid(logits):
    """log(sigmoid(x)) = -(max(-x, 0) + log1p(exp(-|x|))), element-wise."""
    logits = np.asarray(logits)
    _checks.check_elementwise_logits(logits)
    abs_x, _, relu_neg_x = _abs_and_relus(logits)
    return -(relu_neg_x + np.log1p(np.exp(-abs_x)))


def softmax_cross_entropy(logits, targets):
    """-sum_j targets_j * log softmax(logits)_j per row; targets one-hot or any distribution.

    Written as sum(y) * log1p(s) + sum_j y_j * (a - x_j): both terms are >= 0, so nothing
    cancels, and for a one-hot target on the largest logit the loss is log1p(s) exactly.
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    _checks.check_distribution_targets(logits, targets)
    targets = targets.astype(logits.dtype, copy=False)
    _, z, s = _lse_parts(logits)
    return targets.sum(axis=-1) * np.log1p(s[..., 0]) + _times(targets, -z).sum(axis=-1)


def softmax_cross_entropy_grad(logits, targets):
    """d softmax_cross_entropy / d logits = softmax(x) * sum(y) - y  (= p - y when sum(y) = 1)."""
    return softmax_cross_entropy_value_and_grad(logits, targets)[1]


def sparse_softmax_cross_entropy(logits, labels):
    """-log softmax(logits)[label] per row, for integer labels: log1p(s) + (a - x_label)."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    _checks.check_labels(logits, labels)
    _, z, s = _lse_parts(logits)
    z_label = np.take_along_axis(z, labels[..., None], axis=-1)
    return (np.log1p(s) - z_label)[..., 0]


def sparse_softmax_cross_entropy_grad(logits, labels):
    """d sparse_softmax_cross_entropy / d logits = softmax(x) - onehot(label)."""
    return sparse_softmax_cross_entropy_value_and_grad(logits, labels)[1]


def _shifted(logits, top):
    """z = logits - a in a new buffer, as (rows, classes), with the row index and top per row.

    `top` is the position k of each row's maximum a (from the input check), so z[row, k] = 0.
    """
    a = np.take_along_axis(logits, top[..., None], axis=-1)
    z = np.subtract(logits, a, order="C").reshape(-1, logits.shape[-1])  # a view: C-ordered
    return z, np.arange(z.shape[0]), top.reshape(-1)


def _softmax_in_place(g, rows, top, total=None):
    """Overwrite z = x - a (2-D, g[rows, top] = 0) with softmax(x) * total; return log1p(s).

    The arithmetic of `_lse_parts` and `_softmax`: without `total` (or with total = 1) the
    results agree with them to the last bit. With it, the scaling rides on the same pass.
    """
    np.exp(g, out=g)
    g[rows, top] = 0  # exp(0) = 1 exactly: the largest term stays out of s
    s = g.sum(axis=-1)
    scale = 1 + s if total is None else (1 + s) / total
    np.divide(g, scale[:, None], out=g)
    g[rows, top] = 1 / scale
    return np.log1p(s)


def sparse_softmax_cross_entropy_value_and_grad(logits, labels):
    """(sparse_softmax_cross_entropy, its gradient) in one pass and one logits-sized buffer.

    loss = log1p(s) - (x_label - a) and gradient = softmax(x) - onehot(label), equal to the
    separate functions. The buffer holds x - a, then exp(x - a), then the gradient.
    """
    logits, labels = np.asarray(logits), np.asarray(labels)
    top = _checks.check_labels(logits, labels)
    g, rows, top = _shifted(logits, top)
    labels = labels.reshape(-1)
    z_label = g[rows, labels]
    log1p_s = _softmax_in_place(g, rows, top)
    g[rows, labels] -= 1
    return (log1p_s - z_label).reshape(logits.shape[:-1]), g.reshape(logits.shape)


def softmax_cross_entropy_value_and_grad(logits, targets):
    """(softmax_cross_entropy, its gradient) in one pass and one logits-sized buffer.

    loss = sum(y) * log1p(s) + sum_j y_j * (a - x_j) and gradient = softmax(x) * sum(y) - y,
    equal to the separate functions up to rounding: the second sum is a BLAS dot product here,
    and exp(x - a) is divided by (1 + s) / sum(y) in one step. Targets of another dtype than
    the logits are converted first, which costs a copy.
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    top = _checks.check_distribution_targets(logits, targets)
    targets = targets.astype(logits.dtype, copy=False)
    g, rows, top = _shifted(logits, top)
    y = targets.reshape(g.shape)
    with np.errstate(invalid="ignore"):
        cross = -np.vecdot(y, g)  # sum_j y_j * (a - x_j) >= 0, read before g is overwritten
    ruled_out = np.isnan(cross)  # 0 * -inf somewhere in the row: _times takes it as 0
    if ruled_out.any():
        cross[ruled_out] = _times(y[ruled_out], -g[ruled_out]).sum(axis=-1)
    total = y.sum(axis=-1)
    log1p_s = _softmax_in_place(g, rows, top, total)
    g -= y
    return (total * log1p_s + cross).reshape(logits.shape[:-1]), g.reshape(logits.shape)


def sigmoid_cross_entropy(logits, targets, pos_weight=None):
    """-(q y log sigmoid(x) + (1 - y) log sigmoid(-x)), element-wise, from logits; q = pos_weight.

    Written as log1p(exp(-|x|)) + y * max(-x, 0) + (1 - y) * max(x, 0): three terms >= 0, so no
    cancellation (the usual max(x, 0) - x * y + ... cancels when y is close to 1), and an
    infinite logit gives the right answer (0 or inf), not NaN.

    `pos_weight` q (a scalar, or one weight per label broadcast against the last axis; finite,
    >= 0) multiplies the positive term: c * log1p(exp(-|x|)) + q y max(-x, 0) + (1 - y) max(x, 0)
    with c = q y + (1 - y), still three terms >= 0. c is summed from two terms >= 0 (1 + (q - 1) y
    when q >= 1, (1 - y) + q y when q < 1), so c = 1 exactly at q = 1: the unweighted loss, bit
    for bit. None (the default) is the unweighted loss.
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    _checks.check_binary_targets(logits, targets)
    targets = targets.astype(logits.dtype, copy=False)
    abs_x, relu_x, relu_neg_x = _abs_and_relus(logits)
    if pos_weight is None:
        return np.log1p(np.exp(-abs_x)) + _times(targets, relu_neg_x) + _times(1 - targets, relu_x)
    q, c = _positive_weights(logits, targets, pos_weight)
    return c * np.log1p(np.exp(-abs_x)) + _times(q * targets, relu_neg_x) + _times(1 - targets, relu_x)


def _positive_weights(logits, targets, pos_weight):
    """(q, c = q y + (1 - y)) for the positive-weighted loss, in the logits' dtype, checked.

    c is a sum of two terms >= 0 in either branch, so it has no cancellation.
    """
    pos_weight = np.asarray(pos_weight)
    _checks.check_pos_weight(logits, pos_weight)
    q = pos_weight.astype(logits.dtype, copy=False)
    c = np.where(q >= 1, 1 + (q - 1) * targets, (1 - targets) + q * targets)
    return q, c.astype(logits.dtype, copy=False)


def sigmoid_cross_entropy_grad(logits, targets, pos_weight=None):
    """d sigmoid_cross_entropy / d logits = sigmoid(x) - y, element-wise.

    With pos_weight q: (1 - y) sigmoid(x) - q y sigmoid(-x) = c sigmoid(x) - q y, c = q y + 1 - y
    (sigmoid(-x) = 1 - sigmoid(x)); at q = 1 that is sigmoid(x) - y exactly.
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    _checks.check_binary_targets(logits, targets)
    targets = targets.astype(logits.dtype, copy=False)
    if pos_weight is None:
        return sigmoid(logits) - targets
    q, c = _positive_weights(logits, targets, pos_weight)
    return c * sigmoid(logits) - q * targets


def sigmoid_cross_entropy_value_and_grad(logits, targets):
    """(sigmoid_cross_entropy, its gradient), element-wise, equal to the separate functions.

    The two results take two logits-sized buffers; one more and a boolean mask are all the
    work space. With h = [x >= 0] and e = exp(-|x|), the weighted ReLU terms of the loss are
    |x * (h - y)| (that is (1 - y) x or y (-x)), and sigmoid(x) = max(e, h) / (1 + e): the
    same roundings as the separate functions, without `where`, which is slow on random masks.
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    _checks.check_binary_targets(logits, targets)
    targets = targets.astype(logits.dtype, copy=False)
    nonneg = logits >= 0
    grad = np.abs(logits)
    np.negative(grad, out=grad)
    np.exp(grad, out=grad)  # e = exp(-|x|), in (0, 1]
    loss = np.log1p(grad)
    work = np.subtract(nonneg, targets, dtype=logits.dtype)
    with np.errstate(invalid="ignore"):
        np.multiply(work, logits, out=work)
    np.abs(work, out=work)
    loss += work
    if loss.size and np.isnan(loss.max()):  # 0 * inf: an infinite logit, its weight 0
        np.copyto(loss, 0, where=np.isnan(loss))  # the _times convention, as log1p(0) = 0 there
    np.maximum(grad, nonneg, out=work)  # 1 where x >= 0, e where x < 0: exact
    grad += 1
    np.divide(work, grad, out=grad)
    grad -= targets
    return loss, grad


def _y_log_y_ratio(targets, z, log1p_s):
    """y_j * (log y_j - log softmax_j) = y_j * (log y_j + log1p(s) - z_j), 0 where y_j = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_y = np.log(np.where(targets > 0, targets, 1))
        return np.where(targets > 0, targets * ((log_y - z) + log1p_s), 0)


def kl_divergence(logits, targets):
    """KL(y || softmax(logits)) = sum_j y_j (log y_j - log softmax(logits)_j) per row.

    Cross-entropy minus the entropy of the targets, but not computed as that difference: each
    term y_j * ((log y_j - z_j) + log1p(s)), with z = x - a, is summed directly (0 log 0 = 0),
    so two large, nearly equal numbers (the cross-entropy and the entropy of a flat target over
    many classes) are never subtracted.
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    _checks.check_distribution_targets(logits, targets)
    targets = targets.astype(logits.dtype, copy=False)
    _, z, s = _lse_parts(logits)
    return _y_log_y_ratio(targets, z, np.log1p(s)).sum(axis=-1)


def kl_divergence_grad(logits, targets):
    """d kl_divergence / d logits = softmax(x) * sum(y) - y: the entropy term has no logits."""
    return softmax_cross_entropy_value_and_grad(logits, targets)[1]


def binary_cross_entropy_from_probs(probs, targets):
    """-(y log p + (1 - y) log(1 - p)), element-wise, from probabilities p (not logits).

    0 log 0 = 0: a term whose weight is 0 is left out, so p = 0 with y = 0 costs nothing. There
    is no clipping: p = 0 with y > 0 (or p = 1 with y < 1) costs +inf, the true value, where
    the frameworks' built-ins return a clipped number. log(1 - p) is log1p(-p), exact for small
    p. Prefer `sigmoid_cross_entropy` on logits when you have them: p near 1 has lost the
    digits that 1 - p needs (see the binary cross-entropy chapter).
    """
    probs, targets = np.asarray(probs), np.asarray(targets)
    _checks.check_probabilities_and_targets(probs, targets)
    targets = targets.astype(probs.dtype, copy=False)
    # where a weight is 0 the log's argument is replaced by 1 (log 1 = 0): no 0 * inf
    with np.errstate(divide="ignore"):
        log_p = np.log(np.where(targets == 0, 1, probs))
        log_q = np.log1p(-np.where(targets == 1, 0, probs))
    return -(targets * log_p) - (1 - targets) * log_q


def binary_cross_entropy_from_probs_grad(probs, targets):
    """d binary_cross_entropy_from_probs / d probs = (p - y) / (p (1 - p)), element-wise.

    At the ends: p = 0 gives 1 if y = 0 (only the (1 - y) term is left), -inf if y > 0;
    p = 1 gives -1 if y = 1, +inf if y < 1.
    """
    probs, targets = np.asarray(probs), np.asarray(targets)
    _checks.check_probabilities_and_targets(probs, targets)
    targets = targets.astype(probs.dtype, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        grad = (probs - targets) / (probs * (1 - probs))
    grad = np.where((probs == 0) & (targets == 0), 1, grad)
    return np.where((probs == 1) & (targets == 1), -1, grad).astype(probs.dtype, copy=False)
