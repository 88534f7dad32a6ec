"""How close predicted fractions are to the true ones: MSE, KL and Geng's six LDL measures.

Every function takes `(pred, true)`: arrays of shape (n_samples, n_classes) whose rows are
fractions (>= 0, summing to 1). "true" is whatever you compare with: the true fractions p*(x)
on synthetic data, the observed fractions on real data. The per-sample functions return one
value per row; `evaluate` averages them and adds per-class summaries.

Conventions:

- Squared error is summed over classes and averaged over samples, as in `bayes_limit`.
- Terms of the form 0/0 (a class that is 0 in both rows, in Clark and Canberra) count as 0,
  and so do terms 0 * log(0 / v) of KL. KL is inf where true > 0 and pred = 0.
- Geng's measures (Label Distribution Learning, IEEE TKDE 2016), for true u and prediction v:
  Chebyshev max_k |u_k - v_k|, Clark sqrt(sum_k (u_k - v_k)^2 / (u_k + v_k)^2), Canberra
  sum_k |u_k - v_k| / (u_k + v_k), KL sum_k u_k log(u_k / v_k) (lower is better for these
  four); cosine u.v / (|u| |v|) and intersection sum_k min(u_k, v_k) (higher is better).
  Clark and Canberra are relative errors, dominated by the small classes; Chebyshev, cosine and
  intersection are dominated by the large ones.
"""

import numpy as np

from xent import _checks


def _pair(pred, true):
    pred, true = np.asarray(pred), np.asarray(true)
    _checks.check_fractions("pred", pred)
    _checks.check_fractions("true", true)
    if pred.shape != true.shape:
        raise _checks.InputError(
            f"pred and true must have the same shape, got {pred.shape} and {true.shape}"
        )
    return pred.astype(np.float64), true.astype(np.float64)


def xlogy(x, y):
    """x * log(y), element-wise, with 0 wherever x == 0 (so 0 * log 0 = 0)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    out = np.zeros(x.shape)
    nonzero = x != 0
    with np.errstate(divide="ignore"):
        out[nonzero] = x[nonzero] * np.log(y[nonzero])
    return out


def _ratio(num, den):
    """num / den, element-wise, with 0/0 taken as 0."""
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape))
    np.divide(num, den, out=out, where=den != 0)
    return out


def squared_error(pred, true):
    """sum_k (pred_k - true_k)^2 per sample."""
    pred, true = _pair(pred, true)
    return ((pred - true) ** 2).sum(axis=1)


def kl_divergence(pred, true):
    """KL(true || pred) = sum_k true_k log(true_k / pred_k) per sample (note the order)."""
    pred, true = _pair(pred, true)
    return (xlogy(true, true) - xlogy(true, pred)).sum(axis=1)


def chebyshev(pred, true):
    """max_k |pred_k - true_k| per sample."""
    pred, true = _pair(pred, true)
    return np.abs(pred - true).max(axis=1)


def clark(pred, true):
    """sqrt(sum_k (pred_k - true_k)^2 / (pred_k + true_k)^2) per sample; 0/0 terms are 0."""
    pred, true = _pair(pred, true)
    return np.sqrt((_ratio(pred - true, pred + true) ** 2).sum(axis=1))


def canberra(pred, true):
    """sum_k |pred_k - true_k| / (pred_k + true_k) per sample; 0/0 terms are 0."""
    pred, true = _pair(pred, true)
    return _ratio(np.abs(pred - true), pred + true).sum(axis=1)


def cosine(pred, true):
    """pred . true / (|pred| |true|) per sample (rows of fractions are never all zero)."""
    pred, true = _pair(pred, true)
    return (pred * true).sum(axis=1) / (np.linalg.norm(pred, axis=1) * np.linalg.norm(true, axis=1))


def intersection(pred, true):
    """sum_k min(pred_k, true_k) per sample, = 1 - (1/2) sum_k |pred_k - true_k|."""
    pred, true = _pair(pred, true)
    return np.minimum(pred, true).sum(axis=1)


#: Geng's six label-distribution measures, by the names `evaluate` gives them.
LDL_MEASURES = {
    "chebyshev": chebyshev,
    "clark": clark,
    "canberra": canberra,
    "kl": kl_divergence,
    "cosine": cosine,
    "intersection": intersection,
}


def relative_error(pred, true):
    """Per class: the median over samples of |pred_k - true_k| / true_k, shape (n_classes,).

    Samples where true_k = 0 have no relative error and are left out of class k's median (real
    shares have zeros: on BudgetUK the alcohol class uses about 84% of the rows); a class that is
    0 in every sample gets NaN.
    """
    pred, true = _pair(pred, true)
    rel = np.where(true > 0, _ratio(np.abs(pred - true), true), np.nan)
    out = np.full(true.shape[1], np.nan)
    present = (true > 0).any(axis=0)
    out[present] = np.nanmedian(rel[:, present], axis=0)
    return out


def evaluate(pred, true, targets=None, class_names=None):
    """Every metric of the book for predictions `pred` against `true`, as a flat dict of floats.

    With `true` the true fractions p*(x) and `targets` the noisy observed fractions:

    - ``mse_targets`` (only if `targets` is given): MSE against the targets, what the asker
      measured; on synthetic data it is about ``bayes_limit + mse``.
    - ``mse``: MSE against `true`, i.e. the excess MSE over the Bayes limit.
    - ``kl``, ``chebyshev``, ``clark``, ``canberra``, ``cosine``, ``intersection``: Geng's six
      measures, averaged over samples (``kl`` is KL(true || pred)).
    - ``rel_error_<class>``: per-class median relative error (see `relative_error`).
    - ``mean_pred_<class>``, ``mean_true_<class>``: calibration in the large, per class.

    Classes are named by `class_names` (default "0", "1", ...). ``pandas.DataFrame([result])``
    makes it a table row.
    """
    pred, true = _pair(pred, true)
    names = [str(k) for k in range(true.shape[1])] if class_names is None else list(class_names)
    if len(names) != true.shape[1]:
        raise ValueError(f"{len(names)} class names for {true.shape[1]} classes: {names}")
    result = {}
    if targets is not None:
        result["mse_targets"] = float(squared_error(pred, targets).mean())
    result["mse"] = float(squared_error(pred, true).mean())
    for name, measure in LDL_MEASURES.items():
        result[name] = float(measure(pred, true).mean())
    for prefix, values in (
        ("rel_error", relative_error(pred, true)),
        ("mean_pred", pred.mean(axis=0)),
        ("mean_true", true.mean(axis=0)),
    ):
        result.update({f"{prefix}_{name}": float(v) for name, v in zip(names, values, strict=True)})
    return result
