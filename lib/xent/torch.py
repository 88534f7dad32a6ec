"""The cross-entropy family in PyTorch: same names and signatures as `xent.numpy`.

Tensors in, tensors out (float32 or float64, on any device); autograd differentiates every
function, so there is no `*_grad` here. Inputs that are not tensors go through `torch.as_tensor`.
The formulas are those of `xent.numpy` (see its docstring); the one difference is how the
log-sum-exp keeps its gradient, explained in `_lse_parts`.
"""

import torch

from xent import _checks


def _tensor(x):
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x)


def _view(t):
    """A NumPy view of a tensor's values, for the shared checks (no copy on the CPU)."""
    return t.detach().cpu().numpy()


def _lse_parts(logits):
    """a = max (a constant: no gradient), z = logits - a, and s, as in `xent.numpy`.

    The largest term is left out of s and added back as expm1(z_k). In value that is
    expm1(0) = 0, so s is exactly the sum over the other classes; in the gradient it is what
    carries d/dx_k, which a constant shift a would otherwise lose.
    """
    a = logits.detach().amax(dim=-1, keepdim=True)
    z = logits - a
    k = z.detach().argmax(dim=-1, keepdim=True)
    others = torch.exp(z).scatter(-1, k, 0.0)
    s = others.sum(dim=-1, keepdim=True) + torch.expm1(z.gather(-1, k))
    return a, z, s


def _times(weight, value):
    """weight * value, with 0 * inf taken as 0: a class with no weight contributes nothing."""
    return torch.where(weight == 0, torch.zeros_like(value), weight * value)


def _abs_and_relus(logits):
    """|x|, max(x, 0) and max(-x, 0), each taken from the x >= 0 side at x = 0.

    The sigmoid functions add these kinked pieces into smooth results; autograd only gets the
    derivative at 0 right if every piece uses the same side of the kink (torch's and TF's abs
    have derivative 0 there, their max/clamp pick a side of their own).
    """
    nonneg = logits >= 0
    zero = torch.zeros_like(logits)
    return (
        torch.where(nonneg, logits, -logits),
        torch.where(nonneg, logits, zero),
        torch.where(nonneg, zero, -logits),
    )


def logsumexp(logits):
    """log(sum(exp(logits))) over the last axis, without overflow and without losing s."""
    logits = _tensor(logits)
    _checks.check_logits(_view(logits))
    a, _, s = _lse_parts(logits)
    return (a + torch.log1p(s))[..., 0]


def softmax(logits):
    """exp(logits) normalised over the last axis; the division form, not exp(x - lse)."""
    logits = _tensor(logits)
    _checks.check_logits(_view(logits))
    _, z, s = _lse_parts(logits)
    return torch.exp(z) / (1 + s)


def log_softmax(logits):
    """log(softmax(logits)) = (x - a) - log1p(s)."""
    logits = _tensor(logits)
    _checks.check_logits(_view(logits))
    _, z, s = _lse_parts(logits)
    return z - torch.log1p(s)


def sigmoid(logits):
    """1 / (1 + exp(-x)), element-wise, without overflow for either sign of x."""
    logits = _tensor(logits)
    _checks.check_elementwise_logits(_view(logits))
    abs_x, _, _ = _abs_and_relus(logits)
    e = torch.exp(-abs_x)
    return torch.where(logits >= 0, torch.ones_like(e), e) / (1 + e)


def log_sigmoid(logits):
    """log(sigmoid(x)) = -(max(-x, 0) + log1p(exp(-|x|))), element-wise."""
    logits = _tensor(logits)
    _checks.check_elementwise_logits(_view(logits))
    abs_x, _, relu_neg_x = _abs_and_relus(logits)
    return -(relu_neg_x + torch.log1p(torch.exp(-abs_x)))


def softmax_cross_entropy(logits, targets):
    """-sum_j targets_j * log softmax(logits)_j per row; targets one-hot or any distribution."""
    logits, targets = _tensor(logits), _tensor(targets)
    _checks.check_distribution_targets(_view(logits), _view(targets))
    targets = targets.to(logits.dtype)
    _, z, s = _lse_parts(logits)
    return targets.sum(dim=-1) * torch.log1p(s[..., 0]) + _times(targets, -z).sum(dim=-1)


def sparse_softmax_cross_entropy(logits, labels):
    """-log softmax(logits)[label] per row, for integer labels: log1p(s) + (a - x_label)."""
    logits, labels = _tensor(logits), _tensor(labels)
    _checks.check_labels(_view(logits), _view(labels))
    _, z, s = _lse_parts(logits)
    z_label = z.gather(-1, labels.long()[..., None].to(z.device))
    return (torch.log1p(s) - z_label)[..., 0]


def sigmoid_cross_entropy(logits, targets, pos_weight=None):
    """-(q y log sigmoid(x) + (1 - y) log sigmoid(-x)), element-wise, from logits; q = pos_weight.

    log1p(exp(-|x|)) + y * max(-x, 0) + (1 - y) * max(x, 0), as in `xent.numpy`; with pos_weight
    q, c * log1p(exp(-|x|)) + q y max(-x, 0) + (1 - y) max(x, 0), c = q y + (1 - y).
    """
    logits, targets = _tensor(logits), _tensor(targets)
    _checks.check_binary_targets(_view(logits), _view(targets))
    targets = targets.to(logits.dtype)
    abs_x, relu_x, relu_neg_x = _abs_and_relus(logits)
    if pos_weight is None:
        return (
            torch.log1p(torch.exp(-abs_x))
            + _times(targets, relu_neg_x)
            + _times(1 - targets, relu_x)
        )
    q = _tensor(pos_weight)
    _checks.check_pos_weight(_view(logits), _view(q))
    q = q.to(dtype=logits.dtype, device=logits.device)
    c = torch.where(q >= 1, 1 + (q - 1) * targets, (1 - targets) + q * targets)
    return (
        c * torch.log1p(torch.exp(-abs_x))
        + _times(q * targets, relu_neg_x)
        + _times(1 - targets, relu_x)
    )


def kl_divergence(logits, targets):
    """KL(y || softmax(logits)) = sum_j y_j (log y_j - log softmax(logits)_j) per row.

    Each term y_j * ((log y_j - z_j) + log1p(s)) summed directly, 0 where y_j = 0 (with a
    gradient of 0 there, into the logits and into the targets), as in `xent.numpy`.
    """
    logits, targets = _tensor(logits), _tensor(targets)
    _checks.check_distribution_targets(_view(logits), _view(targets))
    targets = targets.to(logits.dtype)
    _, z, s = _lse_parts(logits)
    has_mass = targets > 0
    log_y = torch.log(torch.where(has_mass, targets, torch.ones_like(targets)))
    terms = torch.where(has_mass, targets * ((log_y - z) + torch.log1p(s)), torch.zeros_like(z))
    return terms.sum(dim=-1)


def binary_cross_entropy_from_probs(probs, targets):
    """-(y log p + (1 - y) log(1 - p)), element-wise, from probabilities, as in `xent.numpy`.

    No clipping (p = 0 with y > 0 costs +inf); a log whose weight is 0 gets argument 1, so
    neither the value nor autograd meets 0 * inf.
    """
    probs, targets = _tensor(probs), _tensor(targets)
    _checks.check_probabilities_and_targets(_view(probs), _view(targets))
    targets = targets.to(probs.dtype)
    one, zero = torch.ones_like(probs), torch.zeros_like(probs)
    log_p = torch.log(torch.where(targets == 0, one, probs))
    log_q = torch.log1p(-torch.where(targets == 1, zero, probs))
    return -(targets * log_p) - (1 - targets) * log_q


def reduce_loss(losses, weights=None, denominator="count"):
    """sum(weights * losses) / D, with D "count", "weights", "nonzero" or "sum".

    The denominators, their frameworks and the D = 0 rule (result 0) are those of
    `xent.numpy.reduce_loss`.
    """
    losses = _tensor(losses)
    weights = None if weights is None else _tensor(weights)
    _checks.check_reduction(_view(losses), None if weights is None else _view(weights), denominator)
    if weights is None:
        weights = torch.ones((), dtype=losses.dtype, device=losses.device)
    weights = weights.to(dtype=losses.dtype, device=losses.device).expand(losses.shape)
    total = _times(weights, losses).sum()
    if denominator == "sum":
        return total
    if denominator == "count":
        d = torch.tensor(float(losses.numel()), dtype=losses.dtype, device=losses.device)
    elif denominator == "weights":
        d = weights.sum()
    else:
        d = (weights != 0).sum().to(losses.dtype)
    return torch.where(d != 0, total / torch.where(d != 0, d, 1), torch.zeros_like(total))


# --- huge vocabularies: exact chunked cross-entropy, and the sampled training losses


def _online_lse(hidden, weight, labels, chunk_size):
    """(m, log1p(s), z_label) in one pass over vocabulary chunks, as in `xent.numpy`."""
    n, n_classes = hidden.shape[0], weight.shape[0]
    m = torch.full((n,), -torch.inf, dtype=hidden.dtype, device=hidden.device)
    s = torch.zeros_like(m)
    z_label = torch.zeros_like(m)
    rows = torch.arange(n, device=hidden.device)
    for start in range(0, n_classes, chunk_size):
        z = hidden @ weight[start : start + chunk_size].T
        inside = (labels >= start) & (labels < start + z.shape[1])
        z_label[inside] = z[rows[inside], labels[inside] - start]
        c, top = z.max(dim=1)
        new = c > m
        carry = torch.exp(torch.clamp(m - c, max=0))  # used where `new` only
        z.sub_(torch.maximum(m, c)[:, None]).exp_()
        z[rows[new], top[new]] = 0  # the new maximum stays out of s
        s = torch.where(new, (s + (m > -torch.inf).to(s.dtype)) * carry, s) + z.sum(dim=1)
        m = torch.maximum(m, c)
    return m, torch.log1p(s), z_label


class _ChunkedCrossEntropy(torch.autograd.Function):
    """Forward: online log-sum-exp over vocabulary chunks, saving only (hidden, weight, labels,
    lse). Backward: recompute each chunk of logits, g = exp(z - lse) - onehot, scaled by the
    incoming gradient, and add its share to both gradients. Plain autograd through a loop of
    chunks would save every chunk's softmax for the backward pass: all the logits again."""

    @staticmethod
    def forward(ctx, hidden, weight, labels, chunk_size):
        m, log1p_s, z_label = _online_lse(hidden, weight, labels, chunk_size)
        ctx.save_for_backward(hidden, weight, labels, m + log1p_s)
        ctx.chunk_size = chunk_size
        return log1p_s + (m - z_label)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_loss):
        hidden, weight, labels, lse = ctx.saved_tensors
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        grad_hidden = torch.zeros_like(hidden)
        grad_weight = torch.empty_like(weight)
        for start in range(0, weight.shape[0], ctx.chunk_size):
            w = weight[start : start + ctx.chunk_size]
            g = (hidden @ w.T).sub_(lse[:, None]).exp_()
            inside = (labels >= start) & (labels < start + w.shape[0])
            g[rows[inside], labels[inside] - start] -= 1
            g.mul_(grad_loss[:, None])
            grad_hidden.addmm_(g, w)
            torch.mm(g.T, hidden, out=grad_weight[start : start + w.shape[0]])
        return grad_hidden, grad_weight, None, None


def chunked_softmax_cross_entropy(hidden, weight, labels, chunk_size=4096):
    """-log softmax(hidden @ weight.T)[label] per row, without ever forming all the logits.

    A `torch.autograd.Function`: the forward keeps one (rows, chunk_size) block of logits at a
    time, the backward recomputes them block by block (see `_ChunkedCrossEntropy`).
    """
    hidden, weight, labels = _tensor(hidden), _tensor(weight), _tensor(labels)
    _checks.check_chunked(_view(hidden), _view(weight), _view(labels), chunk_size)
    return _ChunkedCrossEntropy.apply(hidden, weight, labels.long(), int(chunk_size))


def _sampled_logits(weights, biases, labels, inputs, sampled, true_count, sampled_count, remove):
    """[o_t - log Q_t, o_S - log Q_S] per row; an accidental hit gets -inf (see `xent.numpy`)."""
    true = (inputs * weights[labels]).sum(dim=1) + biases[labels] - torch.log(true_count)
    others = inputs @ weights[sampled].T + biases[sampled] - torch.log(sampled_count)
    if remove:
        others = others.masked_fill(sampled[None, :] == labels[:, None], -torch.inf)
    return torch.cat([true[:, None], others], dim=1)


def _sampled_inputs(weights, biases, labels, inputs, sampled, true_count, sampled_count):
    weights, biases, labels, inputs, sampled = (
        _tensor(a) for a in (weights, biases, labels, inputs, sampled)
    )
    true_count, sampled_count = (_tensor(c).to(weights.dtype) for c in (true_count, sampled_count))
    args = (weights, biases, labels, inputs, sampled, true_count, sampled_count)
    _checks.check_sampled(*(_view(a) for a in args))
    return weights, biases, labels.long(), inputs, sampled.long(), true_count, sampled_count


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
    return torch.log1p(s[:, 0]) - z[:, 0]


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
    signed = torch.cat([relu_neg_x[:, :1], relu_x[:, 1:]], dim=1)
    return (torch.log1p(torch.exp(-abs_x)) + signed).sum(dim=1)


# --- label smoothing, focal losses and poly-1 (formulas and conventions as in `xent.numpy`)


def smooth_labels(targets, eps, binary=False):
    """(1 - eps) y + eps / C over the last axis, or (1 - eps) y + eps / 2 with binary=True.

    The categorical form is torch's `cross_entropy(label_smoothing=eps)`; see `xent.numpy`.
    """
    targets = _tensor(targets)
    _checks.check_smoothing(_view(targets), eps, binary)
    share = eps / 2 if binary else eps / targets.shape[-1]
    return targets * (1 - eps) + share


def _focal_factor(q, gamma):
    """q ** gamma for q = 1 - p_t in [0, 1], with a finite gradient everywhere.

    Below the smallest normal number q ** gamma is taken from a detached q: for gamma < 1 its
    derivative is infinite at 0 (and overflows near it), while the loss's derivative is finite
    and below that threshold anyway (see `xent.numpy.sigmoid_focal_loss`).
    """
    normal = q >= torch.finfo(q.dtype).tiny
    safe = torch.where(normal, q, torch.ones_like(q))
    return torch.where(normal, safe**gamma, q.detach() ** gamma)


def sigmoid_focal_loss(logits, targets, gamma=2.0, alpha=None):
    """alpha_t (1 - p_t)^gamma BCE(x, y), element-wise, from logits, as in `xent.numpy`.

    1 - p_t = y sigmoid(-x) + (1 - y) sigmoid(x); alpha=None: no alpha (torchvision's default
    is 0.25).
    """
    logits, targets = _tensor(logits), _tensor(targets)
    _checks.check_binary_targets(_view(logits), _view(targets))
    _checks.check_focal(gamma, alpha)
    y = targets.to(logits.dtype)
    abs_x, relu_x, relu_neg_x = _abs_and_relus(logits)
    e = torch.exp(-abs_x)
    nonneg, one = logits >= 0, torch.ones_like(e)
    q = (y * torch.where(nonneg, e, one) + (1 - y) * torch.where(nonneg, one, e)) / (1 + e)
    bce = torch.log1p(e) + _times(y, relu_neg_x) + _times(1 - y, relu_x)
    weight = _focal_factor(q, gamma)
    if alpha is not None:
        alpha = float(alpha)
        weight = (alpha * y + (1 - alpha) * (1 - y)) * weight
    return _times(weight, bce)


def _softmax_focal_parts(logits, targets, gamma, alpha):
    """(weights alpha_j y_j, q = 1 - p without cancellation, -log p), as in `xent.numpy`.

    -log p_j is 0 where its weight is 0, so that a ruled-out class (-inf) gives no 0 * inf in
    the gradient.
    """
    logits, targets = _tensor(logits), _tensor(targets)
    _checks.check_distribution_targets(_view(logits), _view(targets))
    _checks.check_focal(gamma, alpha, logits.shape[-1])
    y = targets.to(logits.dtype)
    _, z, s = _lse_parts(logits)
    k = z.detach().argmax(dim=-1, keepdim=True)
    is_top = torch.zeros_like(z, dtype=torch.bool).scatter(-1, k, True)
    # at the top, 1 + s - exp(z_k) is s - expm1(z_k): s in value, and the gradient of exp(z_k)
    q = torch.where(is_top, s - torch.expm1(z), 1 + (s - torch.exp(z))) / (1 + s)
    if alpha is not None:
        y = y * torch.as_tensor(alpha, dtype=logits.dtype, device=logits.device)
    nll = torch.where(y == 0, torch.zeros_like(z), torch.log1p(s) - z)
    return y, q, nll


def softmax_focal_loss(logits, targets, gamma=2.0, alpha=None):
    """-sum_j alpha_j y_j (1 - p_j)^gamma log p_j per row, as in `xent.numpy`."""
    w, q, nll = _softmax_focal_parts(logits, targets, gamma, alpha)
    return (w * _focal_factor(q, gamma) * nll).sum(dim=-1)


def poly1_cross_entropy(logits, targets, epsilon=1.0):
    """softmax cross-entropy + epsilon * sum_j y_j (1 - p_j), as in `xent.numpy`."""
    _checks.check_poly1_epsilon(epsilon)
    y, q, nll = _softmax_focal_parts(logits, targets, 0.0, None)
    return (y * nll).sum(dim=-1) + epsilon * (y * q).sum(dim=-1)
