"""The frameworks' own functions, each adapted to our signature, for the agreement tables.

Every adapter takes NumPy inputs, calls the framework's built-in exactly as a user would (the
native API stays visible here: no aliases in the chapters), and returns NumPy values plus the
gradient of their sum with respect to the logits (from autograd), or None where that gradient
is not part of the comparison.

`BUILTINS[name]` lists `(label, adapter)` pairs for each function of `xent.FUNCTIONS`.
Importing this module imports torch and TensorFlow.
"""

import torch
import torch.nn.functional as F

from xent._quiet import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, which the quiet import sets up as its backend)


def run_torch(fn, logits, *rest, grad=True):
    """fn(torch tensors) -> (values, d sum(values) / d logits) as NumPy arrays."""
    x = torch.tensor(logits, requires_grad=grad)
    out = fn(x, *(torch.as_tensor(r) for r in rest))
    g = torch.autograd.grad(out.sum(), x)[0].numpy() if grad else None
    return out.detach().numpy(), g


def run_tensorflow(fn, logits, *rest, grad=True):
    """fn(tf tensors) -> (values, d sum(values) / d logits) as NumPy arrays."""
    x = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = fn(x, *(tf.constant(r) for r in rest))
        total = tf.reduce_sum(out)
    g = tape.gradient(total, x).numpy() if grad else None
    return out.numpy(), g


def _keras(loss_class, elementwise=False):
    """A Keras loss with from_logits=True, no reduction, computing in the input's dtype.

    (Keras losses compute in `keras.config.floatx()`, float32, unless told otherwise: a float64
    input would silently be scored in float32.) Keras takes (y_true, y_pred), targets first.
    For element-wise losses Keras averages over the last axis, so a trailing axis of 1 is added.
    """

    def adapter(logits, targets):
        loss = loss_class(from_logits=True, reduction=None, dtype=str(logits.dtype))

        def call(x, y):
            if elementwise:
                return loss(y[..., None], x[..., None])
            return loss(y, x)

        return run_tensorflow(call, logits, targets)

    return adapter


def _as_torch(value, dtype):
    return None if value is None else torch.as_tensor(value, dtype=getattr(torch, str(dtype)))


def _weighted_cross_entropy_with_logits(logits, targets, *, pos_weight):
    """tf.nn.weighted_cross_entropy_with_logits: the TF op for a positive-class weight only."""
    q = tf.constant(pos_weight, dtype=logits.dtype)
    return run_tensorflow(
        lambda t, u: tf.nn.weighted_cross_entropy_with_logits(labels=u, logits=t, pos_weight=q),
        logits,
        targets,
    )


BUILTINS = {
    "logsumexp": [
        ("torch.logsumexp", lambda x: run_torch(lambda t: torch.logsumexp(t, dim=-1), x)),
        (
            "tf.math.reduce_logsumexp",
            lambda x: run_tensorflow(lambda t: tf.math.reduce_logsumexp(t, axis=-1), x),
        ),
    ],
    "softmax": [
        ("torch.softmax", lambda x: run_torch(lambda t: torch.softmax(t, dim=-1), x, grad=False)),
        ("tf.nn.softmax", lambda x: run_tensorflow(tf.nn.softmax, x, grad=False)),
    ],
    "log_softmax": [
        (
            "torch.log_softmax",
            lambda x: run_torch(lambda t: torch.log_softmax(t, dim=-1), x, grad=False),
        ),
        ("tf.nn.log_softmax", lambda x: run_tensorflow(tf.nn.log_softmax, x, grad=False)),
    ],
    "sigmoid": [
        ("torch.sigmoid", lambda x: run_torch(torch.sigmoid, x, grad=False)),
        ("tf.math.sigmoid", lambda x: run_tensorflow(tf.math.sigmoid, x, grad=False)),
    ],
    "log_sigmoid": [
        ("F.logsigmoid", lambda x: run_torch(F.logsigmoid, x)),
        ("tf.math.log_sigmoid", lambda x: run_tensorflow(tf.math.log_sigmoid, x)),
    ],
    "softmax_cross_entropy": [
        (
            "F.cross_entropy (probabilities)",
            lambda x, y: run_torch(lambda t, u: F.cross_entropy(t, u, reduction="none"), x, y),
        ),
        (
            "tf.nn.softmax_cross_entropy_with_logits",
            lambda x, y: run_tensorflow(
                lambda t, u: tf.nn.softmax_cross_entropy_with_logits(labels=u, logits=t), x, y
            ),
        ),
        ("keras CategoricalCrossentropy", _keras(keras.losses.CategoricalCrossentropy)),
    ],
    "sparse_softmax_cross_entropy": [
        (
            "F.cross_entropy (indices)",
            lambda x, k: run_torch(lambda t, u: F.cross_entropy(t, u, reduction="none"), x, k),
        ),
        (
            "tf.nn.sparse_softmax_cross_entropy_with_logits",
            lambda x, k: run_tensorflow(
                lambda t, u: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=u, logits=t),
                x,
                k,
            ),
        ),
        ("keras SparseCategoricalCrossentropy", _keras(keras.losses.SparseCategoricalCrossentropy)),
    ],
    # pos_weight: torch and tf.nn.weighted_cross_entropy_with_logits take it (the latter needs
    # it); the plain TF op and Keras have none, so compare leaves them out when it is given
    "sigmoid_cross_entropy": [
        (
            "F.binary_cross_entropy_with_logits",
            lambda x, y, pos_weight=None: run_torch(
                lambda t, u: F.binary_cross_entropy_with_logits(
                    t, u, reduction="none", pos_weight=_as_torch(pos_weight, x.dtype)
                ),
                x,
                y,
            ),
        ),
        (
            "tf.nn.sigmoid_cross_entropy_with_logits",
            lambda x, y: run_tensorflow(
                lambda t, u: tf.nn.sigmoid_cross_entropy_with_logits(labels=u, logits=t), x, y
            ),
        ),
        (
            "keras BinaryCrossentropy",
            _keras(keras.losses.BinaryCrossentropy, elementwise=True),
        ),
        ("tf.nn.weighted_cross_entropy_with_logits", _weighted_cross_entropy_with_logits),
    ],
    # TensorFlow has no KL divergence in tf.nn; Keras takes probabilities, so softmax first
    "kl_divergence": [
        (
            "F.kl_div(log_softmax)",
            lambda x, y: run_torch(
                lambda t, u: F.kl_div(F.log_softmax(t, dim=-1), u, reduction="none").sum(-1),
                x,
                y,
            ),
        ),
        (
            "keras KLDivergence(softmax)",
            lambda x, y: run_tensorflow(
                lambda t, u: keras.losses.KLDivergence(reduction=None, dtype=str(x.dtype))(
                    u, tf.nn.softmax(t)
                ),
                x,
                y,
            ),
        ),
    ],
    # the first argument is probabilities here (compare passes it where logits usually go);
    # torch clamps each log at -100, Keras clips p to [1e-7, 1 - 1e-7]; tf.nn has no such op
    "binary_cross_entropy_from_probs": [
        (
            "F.binary_cross_entropy",
            lambda p, y: run_torch(
                lambda t, u: F.binary_cross_entropy(t, u, reduction="none"), p, y
            ),
        ),
        (
            "keras BinaryCrossentropy (probabilities)",
            lambda p, y: run_tensorflow(
                lambda t, u: keras.losses.BinaryCrossentropy(
                    from_logits=False, reduction=None, dtype=str(p.dtype)
                )(u[..., None], t[..., None]),
                p,
                y,
            ),
        ),
    ],
    # huge vocabularies: functions of several arrays (agreement.compare_inputs); each adapter
    # returns (values, gradients of their sum w.r.t. the float arrays); helpers at the end
    "chunked_softmax_cross_entropy": [
        (
            "F.cross_entropy(h @ W.T)",
            lambda h, w, t, chunk_size=None: _torch_inputs(
                lambda h, w, t: F.cross_entropy(h @ w.T, t, reduction="none"), (h, w, t), (0, 1)
            ),
        ),
        (
            "tf.nn.sparse_softmax_cross_entropy_with_logits(h @ W.T)",
            lambda h, w, t, chunk_size=None: _tensorflow_inputs(
                lambda h, w, t: tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=t, logits=tf.matmul(h, w, transpose_b=True)
                ),
                (h, w, t),
                (0, 1),
            ),
        ),
    ],
    "sampled_softmax_loss": [
        (
            "tf.nn.sampled_softmax_loss",
            lambda *a, remove_accidental_hits=True: _tensorflow_sampled(
                tf.nn.sampled_softmax_loss, a, remove_accidental_hits
            ),
        ),
        (
            "F.cross_entropy on gathered logits (composition)",
            lambda *a, remove_accidental_hits=True: _torch_sampled(
                lambda x: F.cross_entropy(
                    x, torch.zeros(len(x), dtype=torch.long), reduction="none"
                ),
                a,
                remove_accidental_hits,
            ),
        ),
    ],
    "nce_loss": [
        (
            "tf.nn.nce_loss",
            lambda *a, remove_accidental_hits=False: _tensorflow_sampled(
                tf.nn.nce_loss, a, remove_accidental_hits
            ),
        ),
        (
            "F.binary_cross_entropy_with_logits on gathered logits (composition)",
            lambda *a, remove_accidental_hits=False: _torch_sampled(
                lambda x: F.binary_cross_entropy_with_logits(
                    x, (torch.arange(x.shape[1]) == 0).to(x.dtype).expand_as(x), reduction="none"
                ).sum(dim=1),
                a,
                remove_accidental_hits,
            ),
        ),
    ],
}

__all__ = ["BUILTINS", "run_tensorflow", "run_torch"]


# --- helpers of the huge-vocabulary adapters (functions of several arrays)


def _torch_inputs(fn, args, wrt):
    """fn(*tensors) -> (values, (d sum(values) / d args[i] for i in wrt)) as NumPy arrays."""
    tensors = [torch.tensor(a, requires_grad=i in wrt) for i, a in enumerate(args)]
    out = fn(*tensors)
    grads = torch.autograd.grad(out.sum(), [tensors[i] for i in wrt])
    return out.detach().numpy(), tuple(g.numpy() for g in grads)


def _tensorflow_inputs(fn, args, wrt):
    """fn(*tensors) -> (values, (d sum(values) / d args[i] for i in wrt)) as NumPy arrays."""
    tensors = [tf.constant(a) for a in args]
    with tf.GradientTape() as tape:
        for i in wrt:
            tape.watch(tensors[i])
        out = fn(*tensors)
        total = tf.reduce_sum(out)
    grads = tape.gradient(total, [tensors[i] for i in wrt])
    # the rows of weights and biases arrive as IndexedSlices (a gather's gradient): densify
    return out.numpy(), tuple(tf.convert_to_tensor(g).numpy() for g in grads)


def _tensorflow_sampled(tf_loss, args, remove_accidental_hits):
    """tf.nn.sampled_softmax_loss or tf.nn.nce_loss with our samples as its sampled_values."""
    weights, biases, labels, inputs, sampled, true_count, sampled_count = args

    def call(w, b, i):
        return tf_loss(
            weights=w,
            biases=b,
            labels=tf.constant(labels[:, None], tf.int64),  # TF: (batch, num_true)
            inputs=i,
            num_sampled=len(sampled),
            num_classes=len(weights),
            sampled_values=(
                tf.constant(sampled, tf.int64),
                tf.constant(true_count[:, None], w.dtype),
                tf.constant(sampled_count, w.dtype),
            ),
            remove_accidental_hits=remove_accidental_hits,
        )

    return _tensorflow_inputs(call, (weights, biases, inputs), (0, 1, 2))


def _torch_sampled(loss_of_logits, args, remove_accidental_hits):
    """A torch user's sampled loss: gather the rows, correct by -log Q, and, like TF, add the
    most negative float32 at accidental hits, then a built-in loss of the (N, 1 + k) logits."""
    weights, biases, labels, inputs, sampled, true_count, sampled_count = args
    t, s = torch.as_tensor(labels), torch.as_tensor(sampled)
    q_true, q_sampled = torch.as_tensor(true_count), torch.as_tensor(sampled_count)

    def call(w, b, h):
        true = (h * w[t]).sum(dim=1) + b[t] - torch.log(q_true)
        others = h @ w[s].T + b[s] - torch.log(q_sampled)
        if remove_accidental_hits:
            hit = (s[None, :] == t[:, None]).to(others.dtype)
            others = others - hit * torch.finfo(torch.float32).max
        return loss_of_logits(torch.cat([true[:, None], others], dim=1))

    return _torch_inputs(call, (weights, biases, inputs), (0, 1, 2))


# --- focal losses and poly-1. torchvision is not installed here: its sigmoid_focal_loss is
# four lines on top of F.binary_cross_entropy_with_logits, written out below exactly (its
# default alpha=0.25 is ours=None here: the adapters take our options). No framework has a
# softmax focal loss in torch or a poly-1 loss anywhere: those are the honest compositions.


def _torchvision_focal(logits, targets, gamma=2.0, alpha=None):
    def fn(x, y):
        p = torch.sigmoid(x)
        ce_loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        p_t = p * y + (1 - p) * (1 - y)
        loss = ce_loss * ((1 - p_t) ** gamma)
        if alpha is not None:
            loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
        return loss

    return run_torch(fn, logits, targets)


def _keras_binary_focal(logits, targets, gamma=2.0, alpha=None):
    loss = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=alpha is not None,
        alpha=0.25 if alpha is None else alpha,
        gamma=gamma,
        from_logits=True,
        reduction=None,
        dtype=str(logits.dtype),
    )
    return run_tensorflow(lambda x, y: loss(y[..., None], x[..., None]), logits, targets)


def _torch_softmax_focal(logits, targets, gamma=2.0, alpha=None):
    def fn(x, y):
        log_p = F.log_softmax(x, dim=-1)
        w = y if alpha is None else y * torch.as_tensor(alpha, dtype=x.dtype)
        return -(w * (1 - log_p.exp()) ** gamma * log_p).sum(dim=-1)

    return run_torch(fn, logits, targets)


def _keras_categorical_focal(logits, targets, gamma=2.0, alpha=None):
    # Keras always multiplies by alpha (default 0.25): alpha=1.0 is "no alpha"
    loss = keras.losses.CategoricalFocalCrossentropy(
        alpha=1.0 if alpha is None else alpha,
        gamma=gamma,
        from_logits=True,
        reduction=None,
        dtype=str(logits.dtype),
    )
    return run_tensorflow(lambda x, y: loss(y, x), logits, targets)


def _torch_poly1(logits, targets, epsilon=1.0):
    def fn(x, y):
        p_t = (y * F.softmax(x, dim=-1)).sum(dim=-1)
        return F.cross_entropy(x, y, reduction="none") + epsilon * (1 - p_t)

    return run_torch(fn, logits, targets)


def _tf_poly1(logits, targets, epsilon=1.0):
    # the code published with the PolyLoss paper (Leng et al. 2022)
    def fn(x, y):
        p_t = tf.reduce_sum(y * tf.nn.softmax(x), axis=-1)
        return tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=x) + epsilon * (1 - p_t)

    return run_tensorflow(fn, logits, targets)


BUILTINS["sigmoid_focal_loss"] = [
    ("torchvision formula (F.bce_with_logits * (1-p_t)^g)", _torchvision_focal),
    ("keras BinaryFocalCrossentropy", _keras_binary_focal),
]
BUILTINS["softmax_focal_loss"] = [
    ("torch composition (F.log_softmax, (1-p)^g)", _torch_softmax_focal),
    ("keras CategoricalFocalCrossentropy", _keras_categorical_focal),
]
BUILTINS["poly1_cross_entropy"] = [
    ("F.cross_entropy + eps*(1 - p_t)", _torch_poly1),
    ("tf.nn.softmax_cross_entropy_with_logits + eps*(1 - p_t)", _tf_poly1),
]
