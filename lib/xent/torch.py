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


def sigmoid_cross_entropy(logits, targets):
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)), element-wise, from logits.

    log1p(exp(-|x|)) + y * max(-x, 0) + (1 - y) * max(x, 0), as in `xent.numpy`.
    """
    logits, targets = _tensor(logits), _tensor(targets)
    _checks.check_binary_targets(_view(logits), _view(targets))
    targets = targets.to(logits.dtype)
    abs_x, relu_x, relu_neg_x = _abs_and_relus(logits)
    return (
        torch.log1p(torch.exp(-abs_x)) + _times(targets, relu_neg_x) + _times(1 - targets, relu_x)
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
