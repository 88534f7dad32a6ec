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
    return (
        c * np.log1p(np.exp(-abs_x)) + _times(q * targets, relu_neg_x) + _times(1 - targets, relu_x)
    )


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


def reduce_loss(losses, weights=None, denominator="count"):
    """sum(weights * losses) / D, one number from unreduced losses: the frameworks' "mean"s.

    `weights` (None for all 1; else finite, >= 0, broadcast to the losses' shape) multiply the
    losses, a zero weight leaving its loss out even where it is inf (0 * inf = 0). D is:

    - "count": the number of loss elements. torch `reduction="mean"` without `weight=`, and
      with it for probability targets or `BCEWithLogitsLoss(weight=)`; Keras
      `"sum_over_batch_size"` (its default) with `sample_weight`; TF1 `SUM_OVER_BATCH_SIZE`.
    - "weights": the sum of the (broadcast) weights. torch `CrossEntropyLoss(weight=w)` /
      `NLLLoss(weight=w)` with class-index targets (the weights are then w[labels]); Keras
      `reduction="mean_with_sample_weight"`; TF1 `tf.compat.v1.losses.Reduction.MEAN`.
    - "nonzero": the number of non-zero (broadcast) weights. TF1 `tf.compat.v1.losses`
      default, `SUM_BY_NONZERO_WEIGHTS`.
    - "sum": 1. torch `reduction="sum"`, Keras `"sum"`, TF1 `Reduction.SUM`.

    D = 0 (all weights zero, or no losses) gives 0, as Keras and TF1 do (`divide_no_nan`);
    torch returns NaN (0 / 0) there. The result is a 0-d array in the losses' dtype.
    """
    losses = np.asarray(losses)
    weights = None if weights is None else np.asarray(weights)
    _checks.check_reduction(losses, weights, denominator)
    if weights is None:
        weights = np.ones((), dtype=losses.dtype)
    weights = np.broadcast_to(weights.astype(losses.dtype, copy=False), losses.shape)
    total = _times(weights, losses).sum(dtype=losses.dtype)
    if denominator == "sum":
        d = 1
    elif denominator == "count":
        d = losses.size
    elif denominator == "weights":
        d = weights.sum(dtype=losses.dtype)
    else:
        d = np.count_nonzero(weights)
    return np.asarray(total / d if d != 0 else 0, dtype=losses.dtype)


# --- huge vocabularies: exact chunked cross-entropy, and the sampled training losses


def _online_lse(hidden, weight, labels, chunk_size):
    """One pass over vocabulary chunks of logits = hidden @ weight.T: (m, log1p(s), z_label).

    The online log-sum-exp: m is the running maximum of each row and s the running sum of
    exp(z - m) over every logit seen so far but one maximal one, as in `_lse_parts`. A chunk
    whose maximum c exceeds m rescales s by exp(m - c) and adds the old maximum's own term
    exp(m - c); then lse = m + log1p(s). The label's logit is read from the chunk that holds
    it, so it is rounded exactly like the maximum it may equal (a loss of exactly log1p(s)).
    Only one chunk of logits, (rows, chunk_size), exists at a time.
    """
    n, n_classes = hidden.shape[0], weight.shape[0]
    m = np.full(n, -np.inf, dtype=hidden.dtype)
    s = np.zeros(n, dtype=hidden.dtype)
    z_label = np.zeros(n, dtype=hidden.dtype)
    rows = np.arange(n)
    for start in range(0, n_classes, chunk_size):
        z = hidden @ weight[start : start + chunk_size].T
        inside = (labels >= start) & (labels < start + z.shape[1])
        z_label[inside] = z[rows[inside], labels[inside] - start]
        top = z.argmax(axis=1)
        c = z[rows, top]
        new = c > m
        carry = np.exp(np.minimum(m - c, 0))  # where `new`: rescales s, the old maximum's term
        np.subtract(z, np.maximum(m, c)[:, None], out=z)
        np.exp(z, out=z)
        z[rows[new], top[new]] = 0  # the new maximum stays out of s (exp(0) = 1 exactly)
        s = np.where(new, (s + (m > -np.inf)) * carry, s) + z.sum(axis=1)
        m = np.maximum(m, c)
    return m, np.log1p(s), z_label


def chunked_softmax_cross_entropy(hidden, weight, labels, chunk_size=4096):
    """-log softmax(hidden @ weight.T)[label] per row, without ever forming all the logits.

    Exact: the same loss as `sparse_softmax_cross_entropy(hidden @ weight.T, labels)`, as
    log1p(s) + (m - z_label) from `_online_lse`, while holding only (rows, chunk_size) logits
    at a time instead of (rows, classes). hidden is (N, H), weight is (V, H), labels (N,).
    """
    hidden, weight, labels = np.asarray(hidden), np.asarray(weight), np.asarray(labels)
    _checks.check_chunked(hidden, weight, labels, chunk_size)
    m, log1p_s, z_label = _online_lse(hidden, weight, labels, chunk_size)
    return log1p_s + (m - z_label)


def chunked_softmax_cross_entropy_value_and_grad(hidden, weight, labels, chunk_size=4096):
    """(loss, (d sum(loss) / d hidden, d sum(loss) / d weight)), both passes chunked.

    With g = softmax(z) - onehot(label) per row, d/d hidden = g @ weight and d/d weight =
    g.T @ hidden. A first pass finds lse = m + log1p(s); the second recomputes each chunk of
    logits, turns it into its block of g = exp(z - lse) - onehot, and adds that block's share
    to both gradients. Peak memory: the gradients plus about one chunk of logits.
    """
    hidden, weight, labels = np.asarray(hidden), np.asarray(weight), np.asarray(labels)
    _checks.check_chunked(hidden, weight, labels, chunk_size)
    m, log1p_s, z_label = _online_lse(hidden, weight, labels, chunk_size)
    lse = m + log1p_s
    rows = np.arange(hidden.shape[0])
    grad_hidden = np.zeros_like(hidden)
    grad_weight = np.empty_like(weight)
    for start in range(0, weight.shape[0], chunk_size):
        w = weight[start : start + chunk_size]
        g = hidden @ w.T
        np.subtract(g, lse[:, None], out=g)
        np.exp(g, out=g)
        inside = (labels >= start) & (labels < start + w.shape[0])
        g[rows[inside], labels[inside] - start] -= 1
        grad_hidden += g @ w
        np.matmul(g.T, hidden, out=grad_weight[start : start + w.shape[0]])
    return log1p_s + (m - z_label), (grad_hidden, grad_weight)


def chunked_softmax_cross_entropy_grad(hidden, weight, labels, chunk_size=4096):
    """(d sum(loss) / d hidden, d sum(loss) / d weight) of `chunked_softmax_cross_entropy`."""
    return chunked_softmax_cross_entropy_value_and_grad(hidden, weight, labels, chunk_size)[1]


def _sampled_logits(weights, biases, labels, inputs, sampled, true_count, sampled_count, remove):
    """[o_t - log Q_t, o_S - log Q_S] per row, as TF's `_compute_sampled_logits` (num_true=1).

    o = inputs . w + b for the true class (a row-wise dot product) and for the k sampled ones
    (one (N, H) @ (H, k) product). An accidental hit (a sampled id equal to the row's label)
    gets -inf, which removes it exactly (TF adds -3.4e38, the largest float32, to the same end).
    """
    true = np.einsum("nh,nh->n", inputs, weights[labels]) + biases[labels]
    true = true - np.log(true_count)
    others = inputs @ weights[sampled].T + biases[sampled] - np.log(sampled_count)
    if remove:
        others = np.where(sampled[None, :] == labels[:, None], -np.inf, others)
    return np.concatenate([true[:, None], others], axis=1)


def _sampled_inputs(weights, biases, labels, inputs, sampled, true_count, sampled_count):
    arrays = [np.asarray(a) for a in (weights, biases, labels, inputs, sampled)]
    counts = [np.asarray(c, dtype=arrays[0].dtype) for c in (true_count, sampled_count)]
    _checks.check_sampled(*arrays, *counts)
    return (*arrays, *counts)


def _sampled_grad(weights, biases, labels, inputs, sampled, g):
    """Chain rule from d loss / d sampled logits (N, 1 + k) to weights, biases and inputs."""
    ids = np.concatenate([labels, sampled])
    g_true, g_sampled = g[:, 0], g[:, 1:]
    grad_inputs = g_true[:, None] * weights[labels] + g_sampled @ weights[sampled]
    grad_weights = np.zeros_like(weights)
    np.add.at(grad_weights, labels, g_true[:, None] * inputs)
    np.add.at(grad_weights, sampled, g_sampled.T @ inputs)
    grad_biases = np.zeros_like(biases)
    np.add.at(grad_biases, ids, np.concatenate([g_true, g_sampled.sum(axis=0)]))
    return grad_weights, grad_biases, grad_inputs


def sampled_softmax_loss(
    weights,
    biases,
    labels,
    inputs,
    sampled,
    true_expected_count,
    sampled_expected_count,
    remove_accidental_hits=True,
):
    """Sampled softmax (Jean et al. 2015) as `tf.nn.sampled_softmax_loss`, given the samples.

    Softmax cross-entropy over 1 + k logits [o_t - log Q_t, o_S - log Q_S] with the true class
    at index 0: log1p(s) + (a - z_0) as in `sparse_softmax_cross_entropy`. Q are the expected
    counts of the sampler (TF's sampled_values triple); labels (N,), sampled (k,) shared by
    the batch. A training loss only: it underestimates the full cross-entropy on average.
    """
    args = _sampled_inputs(
        weights, biases, labels, inputs, sampled, true_expected_count, sampled_expected_count
    )
    logits = _sampled_logits(*args, remove_accidental_hits)
    _, z, s = _lse_parts(logits)
    return np.log1p(s[:, 0]) - z[:, 0]


def sampled_softmax_loss_grad(
    weights,
    biases,
    labels,
    inputs,
    sampled,
    true_expected_count,
    sampled_expected_count,
    remove_accidental_hits=True,
):
    """(d/d weights, d/d biases, d/d inputs) of sum(sampled_softmax_loss).

    d loss / d logits = softmax(logits) - e_0 (0 at a removed hit), then the chain rule
    through o = inputs . w + b: scattered into the rows of the true and the sampled classes.
    """
    args = _sampled_inputs(
        weights, biases, labels, inputs, sampled, true_expected_count, sampled_expected_count
    )
    g = _softmax(_sampled_logits(*args, remove_accidental_hits))
    g[:, 0] -= 1
    return _sampled_grad(*args[:5], g)


def nce_loss(
    weights,
    biases,
    labels,
    inputs,
    sampled,
    true_expected_count,
    sampled_expected_count,
    remove_accidental_hits=False,
):
    """Noise-contrastive estimation as `tf.nn.nce_loss`, given the samples.

    Binary logistic loss of the true class against k noise classes on the same corrected
    logits x = o - log Q: -log sigmoid(x_t) - sum_j log sigmoid(-x_j), each term written
    log1p(exp(-|x|)) + max(-+x, 0) (no overflow; an -inf hit costs exactly 0). TF's default
    keeps accidental hits (remove_accidental_hits=False).
    """
    args = _sampled_inputs(
        weights, biases, labels, inputs, sampled, true_expected_count, sampled_expected_count
    )
    x = _sampled_logits(*args, remove_accidental_hits)
    abs_x, relu_x, relu_neg_x = _abs_and_relus(x)
    terms = np.log1p(np.exp(-abs_x))
    terms[:, 0] += relu_neg_x[:, 0]
    terms[:, 1:] += relu_x[:, 1:]
    return terms.sum(axis=1)


def nce_loss_grad(
    weights,
    biases,
    labels,
    inputs,
    sampled,
    true_expected_count,
    sampled_expected_count,
    remove_accidental_hits=False,
):
    """(d/d weights, d/d biases, d/d inputs) of sum(nce_loss): d/dx = sigmoid(x) - [true]."""
    args = _sampled_inputs(
        weights, biases, labels, inputs, sampled, true_expected_count, sampled_expected_count
    )
    g = sigmoid(_sampled_logits(*args, remove_accidental_hits))
    g[:, 0] -= 1
    return _sampled_grad(*args[:5], g)


# --- label smoothing, focal losses and poly-1 (the chapter "Label smoothing, focal loss and
# poly-1" derives the gradients)


def smooth_labels(targets, eps, binary=False):
    """Label smoothing: (1 - eps) y + eps / C over the last axis of C classes, or, with
    binary=True, (1 - eps) y + eps / 2 element-wise.

    The categorical form is what torch `cross_entropy(label_smoothing=eps)` and Keras
    `CategoricalCrossentropy(label_smoothing=eps)` use (eps / C goes to every class, the true
    one included); the binary form is Keras `BinaryCrossentropy(label_smoothing=eps)`: each
    element is a two-class problem. The result has the targets' dtype.
    """
    targets = np.asarray(targets)
    _checks.check_smoothing(targets, eps, binary)
    share = eps / 2 if binary else eps / targets.shape[-1]
    return (targets * (1 - eps) + share).astype(targets.dtype, copy=False)


def _sigmoids(logits):
    """sigmoid(x) and sigmoid(-x), both from e = exp(-|x|) <= 1: no overflow, no 1 - p."""
    abs_x, relu_x, relu_neg_x = _abs_and_relus(logits)
    e = np.exp(-abs_x)
    nonneg = logits >= 0
    return np.where(nonneg, 1, e) / (1 + e), np.where(nonneg, e, 1) / (1 + e), e, relu_x, relu_neg_x


def _focal_factor(q, gamma):
    """q ** gamma for q = 1 - p_t in [0, 1] (0 ** 0 = 1)."""
    return np.power(q, gamma, dtype=q.dtype)


def _sigmoid_focal_parts(logits, targets, gamma, alpha):
    """(alpha_t, 1 - p_t, BCE, sigmoid(x), sigmoid(-x)) of the sigmoid focal loss."""
    _checks.check_binary_targets(logits, targets)
    _checks.check_focal(gamma, alpha)
    y = targets.astype(logits.dtype, copy=False)
    sig, sig_neg, e, relu_x, relu_neg_x = _sigmoids(logits)
    bce = np.log1p(e) + _times(y, relu_neg_x) + _times(1 - y, relu_x)
    q = y * sig_neg + (1 - y) * sig  # 1 - p_t: two terms >= 0, nothing cancels
    if alpha is None:
        alpha_t = np.ones((), logits.dtype)
    else:
        alpha_t = float(alpha) * y + (1 - float(alpha)) * (1 - y)
    return alpha_t.astype(logits.dtype, copy=False), q, bce, sig, sig_neg


def sigmoid_focal_loss(logits, targets, gamma=2.0, alpha=None):
    """alpha_t (1 - p_t)^gamma BCE(x, y), element-wise (Lin et al. 2017), from logits.

    p = sigmoid(x), p_t = p y + (1 - p)(1 - y) and, when alpha is given, alpha_t = alpha y +
    (1 - alpha)(1 - y); alpha=None means no alpha at all. (torchvision's sigmoid_focal_loss
    defaults to alpha=0.25; Keras BinaryFocalCrossentropy applies alpha only with
    apply_class_balancing=True.) 1 - p_t is computed as y sigmoid(-x) + (1 - y) sigmoid(x), two
    terms >= 0, so it keeps its digits when p_t is close to 1 (1 - p_t there would be 0), and
    BCE is `sigmoid_cross_entropy`'s three non-negative terms. For gamma < 1 the factor
    (1 - p_t)^gamma has an infinite derivative at p_t = 1, but BCE vanishes there as fast as
    1 - p_t: the loss's derivative is finite and tends to 0, and 0 is what the gradients return
    where 1 - p_t is below the smallest normal number.
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    alpha_t, q, bce, _, _ = _sigmoid_focal_parts(logits, targets, gamma, alpha)
    return _times(alpha_t * _focal_factor(q, gamma), bce)


def sigmoid_focal_loss_grad(logits, targets, gamma=2.0, alpha=None):
    """d sigmoid_focal_loss / dx = alpha_t q^gamma [(sigmoid(x) - y) + gamma (1 - 2y) r BCE].

    q = 1 - p_t, dq/dx = (1 - 2y) sigmoid(x) sigmoid(-x) and r = sigmoid(x) sigmoid(-x) / q,
    which stays in [0, 1] (it is sigmoid(x) for y = 1 and sigmoid(-x) for y = 0); r is taken
    as 0 where q is below the smallest normal number (the term is below it too).
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    alpha_t, q, bce, sig, sig_neg = _sigmoid_focal_parts(logits, targets, gamma, alpha)
    y = targets.astype(logits.dtype, copy=False)
    normal = q >= np.finfo(logits.dtype).tiny
    r = np.where(normal, sig * sig_neg / np.where(normal, q, 1), 0)
    return alpha_t * _focal_factor(q, gamma) * ((sig - y) + _times(gamma * (1 - 2 * y) * r, bce))


def _softmax_focal_parts(logits, targets, gamma, alpha):
    """(weights alpha_j y_j, q = 1 - p, -log p, p) of a softmax focal loss or poly-1.

    1 - p_j = (sum of exp(z_i) over i != j) / (1 + s): s / (1 + s) at the largest logit (no
    1 - p there) and (1 + (s - exp(z_j))) / (1 + s) elsewhere, where p_j <= 1/2.
    """
    top = _checks.check_distribution_targets(logits, targets)
    _checks.check_focal(gamma, alpha, logits.shape[-1])
    y = targets.astype(logits.dtype, copy=False)
    _, z, s = _lse_parts(logits)
    e = np.exp(z)
    is_top = np.arange(logits.shape[-1]) == top[..., None]
    q = np.where(is_top, s, 1 + (s - e)) / (1 + s)
    nll = np.log1p(s) - z  # -log p_j: two terms >= 0
    w = y if alpha is None else y * np.asarray(alpha, dtype=logits.dtype)
    return w, q, nll, e / (1 + s)


def softmax_focal_loss(logits, targets, gamma=2.0, alpha=None):
    """-sum_j alpha_j y_j (1 - p_j)^gamma log p_j per row, p = softmax(x) (Lin et al. 2017).

    alpha: None (no weight), a scalar, or one weight per class; targets one-hot or any
    distribution. -log p_j = log1p(s) - z_j as in `softmax_cross_entropy`, and 1 - p_j without
    cancellation (see `_softmax_focal_parts`): a confident correct row keeps its tiny loss. Keras
    CategoricalFocalCrossentropy always multiplies by alpha (default 0.25).
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    w, q, nll, _ = _softmax_focal_parts(logits, targets, gamma, alpha)
    return _times(w, _focal_factor(q, gamma) * nll).sum(axis=-1)


def softmax_focal_loss_grad(logits, targets, gamma=2.0, alpha=None):
    """d softmax_focal_loss / dx = p * sum(c) - c, c_j = w_j q_j^gamma (1 + gamma p_j nll_j / q_j).

    w_j = alpha_j y_j, q_j = 1 - p_j, nll_j = -log p_j: the cross-entropy gradient p sum(y) - y
    with y replaced by c. nll_j / q_j tends to 1 as q_j -> 0 and is taken as 1 there; p nll = 0
    where p = 0 (a ruled-out class).
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    w, q, nll, p = _softmax_focal_parts(logits, targets, gamma, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(q > 0, nll / np.where(q > 0, q, 1), 1)
    c = _times(w, _focal_factor(q, gamma) * (1 + gamma * _times(p, ratio)))
    return p * c.sum(axis=-1, keepdims=True) - c


def poly1_cross_entropy(logits, targets, epsilon=1.0):
    """Poly-1 (Leng et al. 2022): softmax cross-entropy + epsilon * (1 - p_t), p_t = sum_j y_j p_j.

    1 - p_t is computed as sum_j y_j (1 - p_j) (equal for targets that sum to 1), each 1 - p_j
    without cancellation, so a confident correct row keeps its tiny loss. epsilon >= -1.
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    _checks.check_poly1_epsilon(epsilon)
    w, q, nll, _ = _softmax_focal_parts(logits, targets, 0.0, None)
    return _times(w, nll).sum(axis=-1) + epsilon * (w * q).sum(axis=-1)


def poly1_cross_entropy_grad(logits, targets, epsilon=1.0):
    """d poly1 / dx = p sum(y) - y + epsilon p (p_t - y): the CE gradient plus d(1 - p_t)/dx."""
    logits, targets = np.asarray(logits), np.asarray(targets)
    _checks.check_poly1_epsilon(epsilon)
    y, _, _, p = _softmax_focal_parts(logits, targets, 0.0, None)
    p_t = (y * p).sum(axis=-1, keepdims=True)
    return p * y.sum(axis=-1, keepdims=True) - y + epsilon * p * (p_t - y)
