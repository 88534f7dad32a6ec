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
    labels = tf.cast(labels, tf.int64)  # checked integers in range; tf.gather refuses uint8/int16
    _, z, s = _lse_parts(logits)
    z_label = tf.gather(z, labels, batch_dims=labels.shape.rank)
    return tf.math.log1p(s[..., 0]) - z_label


def sigmoid_cross_entropy(logits, targets):
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)), element-wise, from logits.

    log1p(exp(-|x|)) + y * max(-x, 0) + (1 - y) * max(x, 0), as in `xent.numpy`.
    """
    logits, targets = _tensor(logits), _tensor(targets)
    _check(_checks.check_binary_targets, logits, targets)
    targets = tf.cast(targets, logits.dtype)
    abs_x, relu_x, relu_neg_x = _abs_and_relus(logits)
    return tf.math.log1p(tf.exp(-abs_x)) + _times(targets, relu_neg_x) + _times(1 - targets, relu_x)


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
