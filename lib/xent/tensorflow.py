"""The cross-entropy family in TensorFlow: same names and signatures as `xent.numpy`.

Tensors in, tensors out (float32 or float64); `tf.GradientTape` differentiates every function,
so there is no `*_grad` here. Inputs that are not tensors go through `tf.convert_to_tensor`.
The formulas are those of `xent.numpy`; `_lse_parts` keeps the gradient as in `xent.torch`.
Importing this module imports TensorFlow once, with its start-up log lines silenced.

Input checks read the tensors' values, so they run in eager mode (the default). Inside a
`tf.function` the values are not known when the graph is built and only the eager checks'
shape rules can apply; call the functions eagerly while you are still debugging your data.
"""

from xent import _checks
from xent._quiet import import_tensorflow

tf = import_tensorflow()


def _tensor(x):
    return x if isinstance(x, tf.Tensor | tf.Variable) else tf.convert_to_tensor(x)


def _check(check, *tensors):
    """Run a shared check on the tensors' values, when they have values (eager mode)."""
    if tf.executing_eagerly():
        check(*(t.numpy() for t in tensors))


def _lse_parts(logits):
    """a = max (a constant: no gradient), z = logits - a, and s, as in `xent.torch`."""
    a = tf.stop_gradient(tf.reduce_max(logits, axis=-1, keepdims=True))
    z = logits - a
    is_max = tf.one_hot(tf.argmax(z, axis=-1), tf.shape(z)[-1], on_value=True, off_value=False)
    zeros = tf.zeros_like(z)
    others = tf.where(is_max, zeros, tf.exp(z))
    z_max = tf.reduce_sum(tf.where(is_max, z, zeros), axis=-1, keepdims=True)
    s = tf.reduce_sum(others, axis=-1, keepdims=True) + tf.math.expm1(z_max)
    return a, z, s


def _times(weight, value):
    """weight * value, with 0 * inf taken as 0: a class with no weight contributes nothing."""
    return tf.where(weight == 0, tf.zeros_like(value), weight * value)


def _abs_and_relus(logits):
    """|x|, max(x, 0) and max(-x, 0), each taken from the x >= 0 side at x = 0.

    The sigmoid functions add these kinked pieces into smooth results; autograd only gets the
    derivative at 0 right if every piece uses the same side of the kink (torch's and TF's abs
    have derivative 0 there, their max/clamp pick a side of their own).
    """
    nonneg = logits >= 0
    zero = tf.zeros_like(logits)
    return (
        tf.where(nonneg, logits, -logits),
        tf.where(nonneg, logits, zero),
        tf.where(nonneg, zero, -logits),
    )


def logsumexp(logits):
    """log(sum(exp(logits))) over the last axis, without overflow and without losing s."""
    logits = _tensor(logits)
    _check(_checks.check_logits, logits)
    a, _, s = _lse_parts(logits)
    return (a + tf.math.log1p(s))[..., 0]


def softmax(logits):
    """exp(logits) normalised over the last axis; the division form, not exp(x - lse)."""
    logits = _tensor(logits)
    _check(_checks.check_logits, logits)
    _, z, s = _lse_parts(logits)
    return tf.exp(z) / (1 + s)


def log_softmax(logits):
    """log(softmax(logits)) = (x - a) - log1p(s)."""
    logits = _tensor(logits)
    _check(_checks.check_logits, logits)
    _, z, s = _lse_parts(logits)
    return z - tf.math.log1p(s)


def sigmoid(logits):
    """1 / (1 + exp(-x)), element-wise, without overflow for either sign of x."""
    logits = _tensor(logits)
    _check(_checks.check_elementwise_logits, logits)
    abs_x, _, _ = _abs_and_relus(logits)
    e = tf.exp(-abs_x)
    return tf.where(logits >= 0, tf.ones_like(e), e) / (1 + e)


def log_sigmoid(logits):
    """log(sigmoid(x)) = -(max(-x, 0) + log1p(exp(-|x|))), element-wise."""
    logits = _tensor(logits)
    _check(_checks.check_elementwise_logits, logits)
    abs_x, _, relu_neg_x = _abs_and_relus(logits)
    return -(relu_neg_x + tf.math.log1p(tf.exp(-abs_x)))


def softmax_cross_entropy(logits, targets):
    """-sum_j targets_j * log softmax(logits)_j per row; targets one-hot or any distribution."""
    logits, targets = _tensor(logits), _tensor(targets)
    _check(_checks.check_distribution_targets, logits, targets)
    targets = tf.cast(targets, logits.dtype)
    _, z, s = _lse_parts(logits)
    return tf.reduce_sum(targets, axis=-1) * tf.math.log1p(s[..., 0]) + tf.reduce_sum(
        _times(targets, -z), axis=-1
    )


def sparse_softmax_cross_entropy(logits, labels):
    """-log softmax(logits)[label] per row, for integer labels: log1p(s) + (a - x_label)."""
    logits, labels = _tensor(logits), _tensor(labels)
    _check(_checks.check_labels, logits, labels)
    labels = tf.cast(labels, tf.int64)  # checked integers in range; tf.gather refuses (u)int8
    _, z, s = _lse_parts(logits)
    z_label = tf.gather(z, labels, batch_dims=labels.shape.rank)
    return tf.math.log1p(s[..., 0]) - z_label


def sigmoid_cross_entropy(logits, targets, pos_weight=None):
    """-(q y log sigmoid(x) + (1 - y) log sigmoid(-x)), element-wise, from logits; q = pos_weight.

    log1p(exp(-|x|)) + y * max(-x, 0) + (1 - y) * max(x, 0), as in `xent.numpy`; with pos_weight
    q, c * log1p(exp(-|x|)) + q y max(-x, 0) + (1 - y) max(x, 0), c = q y + (1 - y).
    """
    logits, targets = _tensor(logits), _tensor(targets)
    _check(_checks.check_binary_targets, logits, targets)
    targets = tf.cast(targets, logits.dtype)
    abs_x, relu_x, relu_neg_x = _abs_and_relus(logits)
    if pos_weight is None:
        return (
            tf.math.log1p(tf.exp(-abs_x))
            + _times(targets, relu_neg_x)
            + _times(1 - targets, relu_x)
        )
    q = _tensor(pos_weight)
    _check(_checks.check_pos_weight, logits, q)
    q = tf.cast(q, logits.dtype)
    c = tf.where(q >= 1, 1 + (q - 1) * targets, (1 - targets) + q * targets)
    return (
        c * tf.math.log1p(tf.exp(-abs_x))
        + _times(q * targets, relu_neg_x)
        + _times(1 - targets, relu_x)
    )


def kl_divergence(logits, targets):
    """KL(y || softmax(logits)) = sum_j y_j (log y_j - log softmax(logits)_j) per row.

    Each term y_j * ((log y_j - z_j) + log1p(s)) summed directly, 0 where y_j = 0 (with a
    gradient of 0 there, into the logits and into the targets), as in `xent.numpy`.
    """
    logits, targets = _tensor(logits), _tensor(targets)
    _check(_checks.check_distribution_targets, logits, targets)
    targets = tf.cast(targets, logits.dtype)
    _, z, s = _lse_parts(logits)
    has_mass = targets > 0
    log_y = tf.math.log(tf.where(has_mass, targets, tf.ones_like(targets)))
    terms = tf.where(has_mass, targets * ((log_y - z) + tf.math.log1p(s)), tf.zeros_like(z))
    return tf.reduce_sum(terms, axis=-1)


def binary_cross_entropy_from_probs(probs, targets):
    """-(y log p + (1 - y) log(1 - p)), element-wise, from probabilities, as in `xent.numpy`.

    No clipping (p = 0 with y > 0 costs +inf); a log whose weight is 0 gets argument 1, so
    neither the value nor the tape meets 0 * inf.
    """
    probs, targets = _tensor(probs), _tensor(targets)
    _check(_checks.check_probabilities_and_targets, probs, targets)
    targets = tf.cast(targets, probs.dtype)
    one, zero = tf.ones_like(probs), tf.zeros_like(probs)
    log_p = tf.math.log(tf.where(targets == 0, one, probs))
    log_q = tf.math.log1p(-tf.where(targets == 1, zero, probs))
    return -(targets * log_p) - (1 - targets) * log_q


def reduce_loss(losses, weights=None, denominator="count"):
    """sum(weights * losses) / D, with D "count", "weights", "nonzero" or "sum".

    The denominators, their frameworks and the D = 0 rule (result 0, `tf.math.divide_no_nan`)
    are those of `xent.numpy.reduce_loss`.
    """
    losses = _tensor(losses)
    weights = None if weights is None else _tensor(weights)
    if tf.executing_eagerly():
        _checks.check_reduction(
            losses.numpy(), None if weights is None else weights.numpy(), denominator
        )
    if weights is None:
        weights = tf.ones((), dtype=losses.dtype)
    weights = tf.broadcast_to(tf.cast(weights, losses.dtype), tf.shape(losses))
    total = tf.reduce_sum(_times(weights, losses))
    if denominator == "sum":
        return total
    if denominator == "count":
        d = tf.cast(tf.size(losses), losses.dtype)
    elif denominator == "weights":
        d = tf.reduce_sum(weights)
    else:
        d = tf.cast(tf.math.count_nonzero(weights), losses.dtype)
    return tf.math.divide_no_nan(total, d)


# --- huge vocabularies: exact chunked cross-entropy, and the sampled training losses


def _online_lse(hidden, weight, labels, chunk_size):
    """(m, log1p(s), z_label) in one pass over vocabulary chunks, as in `xent.numpy`."""
    n, n_classes = hidden.shape[0], weight.shape[0]
    m = tf.fill([n], tf.constant(-float("inf"), hidden.dtype))
    s = tf.zeros([n], hidden.dtype)
    z_label = tf.zeros([n], hidden.dtype)
    for start in range(0, n_classes, chunk_size):
        z = tf.matmul(hidden, weight[start : start + chunk_size], transpose_b=True)
        width = z.shape[1]
        inside = (labels >= start) & (labels < start + width)
        local = tf.where(inside, labels - start, tf.zeros_like(labels))
        z_label = tf.where(inside, tf.gather(z, local, batch_dims=1), z_label)
        top = tf.argmax(z, axis=1, output_type=labels.dtype)
        c = tf.reduce_max(z, axis=1)
        new = c > m
        carry = tf.exp(tf.minimum(m - c, 0))  # used where `new` only
        e = tf.exp(z - tf.maximum(m, c)[:, None])
        is_top = tf.one_hot(top, width, on_value=True, off_value=False) & new[:, None]
        e = tf.where(is_top, tf.zeros_like(e), e)  # the new maximum stays out of s
        s = tf.where(new, (s + tf.cast(m > -float("inf"), s.dtype)) * carry, s)
        s = s + tf.reduce_sum(e, axis=1)
        m = tf.maximum(m, c)
    return m, tf.math.log1p(s), z_label


def chunked_softmax_cross_entropy(hidden, weight, labels, chunk_size=4096):
    """-log softmax(hidden @ weight.T)[label] per row, without ever forming all the logits.

    A `tf.custom_gradient`: the forward keeps one (rows, chunk_size) block of logits at a time;
    the gradient function recomputes the blocks, g = exp(z - lse) - onehot scaled by the
    upstream gradient, and adds g @ w to d/d hidden and g.T @ hidden to d/d weight. Without it
    the tape would keep every block alive until the gradient is taken: all the logits again.
    """
    hidden, weight, labels = _tensor(hidden), _tensor(weight), _tensor(labels)
    _check(lambda h, w, t: _checks.check_chunked(h, w, t, chunk_size), hidden, weight, labels)
    labels = tf.cast(labels, tf.int64)
    chunk_size = int(chunk_size)

    @tf.custom_gradient
    def loss(hidden, weight):
        m, log1p_s, z_label = _online_lse(hidden, weight, labels, chunk_size)
        lse = m + log1p_s

        def grad(upstream):
            grad_hidden = tf.zeros_like(hidden)
            blocks = []
            for start in range(0, weight.shape[0], chunk_size):
                w = weight[start : start + chunk_size]
                g = tf.exp(tf.matmul(hidden, w, transpose_b=True) - lse[:, None])
                inside = (labels >= start) & (labels < start + w.shape[0])
                onehot = tf.one_hot(labels - start, w.shape[0], dtype=g.dtype)
                g = (g - tf.where(inside[:, None], onehot, tf.zeros_like(onehot))) * upstream[
                    :, None
                ]
                grad_hidden += tf.matmul(g, w)
                blocks.append(tf.matmul(g, hidden, transpose_a=True))
            return grad_hidden, tf.concat(blocks, axis=0)

        return log1p_s + (m - z_label), grad

    return loss(hidden, weight)


def _sampled_logits(weights, biases, labels, inputs, sampled, true_count, sampled_count, remove):
    """[o_t - log Q_t, o_S - log Q_S] per row; an accidental hit gets -inf (see `xent.numpy`)."""
    true = tf.reduce_sum(inputs * tf.gather(weights, labels), axis=1) + tf.gather(biases, labels)
    true = true - tf.math.log(true_count)
    others = tf.matmul(inputs, tf.gather(weights, sampled), transpose_b=True)
    others = others + tf.gather(biases, sampled) - tf.math.log(sampled_count)
    if remove:
        hit = sampled[None, :] == labels[:, None]
        others = tf.where(hit, tf.constant(-float("inf"), others.dtype), others)
    return tf.concat([true[:, None], others], axis=1)


def _sampled_inputs(weights, biases, labels, inputs, sampled, true_count, sampled_count):
    weights, biases, labels, inputs, sampled = (
        _tensor(a) for a in (weights, biases, labels, inputs, sampled)
    )
    true_count, sampled_count = (
        tf.cast(_tensor(c), weights.dtype) for c in (true_count, sampled_count)
    )
    args = (weights, biases, labels, inputs, sampled, true_count, sampled_count)
    _check(_checks.check_sampled, *args)
    labels, sampled = tf.cast(labels, tf.int64), tf.cast(sampled, tf.int64)
    return weights, biases, labels, inputs, sampled, true_count, sampled_count


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
    """Sampled softmax as `tf.nn.sampled_softmax_loss`, given the samples (see `xent.numpy`)."""
    args = _sampled_inputs(
        weights, biases, labels, inputs, sampled, true_expected_count, sampled_expected_count
    )
    _, z, s = _lse_parts(_sampled_logits(*args, remove_accidental_hits))
    return tf.math.log1p(s[:, 0]) - z[:, 0]


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
    """Noise-contrastive estimation as `tf.nn.nce_loss`, given the samples (see `xent.numpy`)."""
    args = _sampled_inputs(
        weights, biases, labels, inputs, sampled, true_expected_count, sampled_expected_count
    )
    x = _sampled_logits(*args, remove_accidental_hits)
    abs_x, relu_x, relu_neg_x = _abs_and_relus(x)
    signed = tf.concat([relu_neg_x[:, :1], relu_x[:, 1:]], axis=1)
    return tf.reduce_sum(tf.math.log1p(tf.exp(-abs_x)) + signed, axis=1)


# --- label smoothing, focal losses and poly-1 (formulas and conventions as in `xent.numpy`)


def smooth_labels(targets, eps, binary=False):
    """(1 - eps) y + eps / C over the last axis, or (1 - eps) y + eps / 2 with binary=True.

    Keras's `label_smoothing=eps` in CategoricalCrossentropy and BinaryCrossentropy.
    """
    targets = _tensor(targets)
    if tf.executing_eagerly():
        _checks.check_smoothing(targets.numpy(), eps, binary)
    share = eps / 2 if binary else eps / targets.shape[-1]
    return targets * (1 - eps) + share


def _focal_factor(q, gamma):
    """q ** gamma for q = 1 - p_t in [0, 1], with a finite gradient everywhere (`xent.torch`)."""
    import numpy as np  # only for the smallest normal number of the dtype

    normal = q >= np.finfo(q.dtype.as_numpy_dtype).tiny
    safe = tf.where(normal, q, tf.ones_like(q))
    return tf.where(normal, tf.pow(safe, gamma), tf.pow(tf.stop_gradient(q), gamma))


def sigmoid_focal_loss(logits, targets, gamma=2.0, alpha=None):
    """alpha_t (1 - p_t)^gamma BCE(x, y), element-wise, from logits, as in `xent.numpy`.

    1 - p_t = y sigmoid(-x) + (1 - y) sigmoid(x); alpha=None: no alpha (Keras applies alpha
    only with apply_class_balancing=True).
    """
    logits, targets = _tensor(logits), _tensor(targets)
    _check(_checks.check_binary_targets, logits, targets)
    _checks.check_focal(gamma, alpha)
    y = tf.cast(targets, logits.dtype)
    abs_x, relu_x, relu_neg_x = _abs_and_relus(logits)
    e = tf.exp(-abs_x)
    nonneg, one = logits >= 0, tf.ones_like(e)
    q = (y * tf.where(nonneg, e, one) + (1 - y) * tf.where(nonneg, one, e)) / (1 + e)
    bce = tf.math.log1p(e) + _times(y, relu_neg_x) + _times(1 - y, relu_x)
    weight = _focal_factor(q, gamma)
    if alpha is not None:
        alpha = float(alpha)
        weight = (alpha * y + (1 - alpha) * (1 - y)) * weight
    return _times(weight, bce)


def _softmax_focal_parts(logits, targets, gamma, alpha):
    """(weights alpha_j y_j, q = 1 - p without cancellation, -log p), as in `xent.torch`."""
    logits, targets = _tensor(logits), _tensor(targets)
    _check(_checks.check_distribution_targets, logits, targets)
    _checks.check_focal(gamma, alpha, logits.shape[-1])
    y = tf.cast(targets, logits.dtype)
    _, z, s = _lse_parts(logits)
    is_top = tf.one_hot(tf.argmax(z, axis=-1), tf.shape(z)[-1], on_value=True, off_value=False)
    # at the top, 1 + s - exp(z_k) is s - expm1(z_k): s in value, and the gradient of exp(z_k)
    q = tf.where(is_top, s - tf.math.expm1(z), 1 + (s - tf.exp(z))) / (1 + s)
    if alpha is not None:
        y = y * tf.constant(alpha, dtype=logits.dtype)
    nll = tf.where(y == 0, tf.zeros_like(z), tf.math.log1p(s) - z)
    return y, q, nll


def softmax_focal_loss(logits, targets, gamma=2.0, alpha=None):
    """-sum_j alpha_j y_j (1 - p_j)^gamma log p_j per row, as in `xent.numpy`."""
    w, q, nll = _softmax_focal_parts(logits, targets, gamma, alpha)
    return tf.reduce_sum(w * _focal_factor(q, gamma) * nll, axis=-1)


def poly1_cross_entropy(logits, targets, epsilon=1.0):
    """softmax cross-entropy + epsilon * sum_j y_j (1 - p_j), as in `xent.numpy`."""
    _checks.check_poly1_epsilon(epsilon)
    y, q, nll = _softmax_focal_parts(logits, targets, 0.0, None)
    return tf.reduce_sum(y * nll, axis=-1) + epsilon * tf.reduce_sum(y * q, axis=-1)
