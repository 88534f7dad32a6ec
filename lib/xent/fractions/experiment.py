"""The experiment: every loss ("arm") trained with every seed, evaluated on a test set.

`run_experiment` returns one table row per (arm, seed) and every learning curve; `summarize`
turns the rows into mean and standard deviation over the seeds, with each arm's mean divided by
the cross-entropy arm's (the "ratio" column). With one seed the arms of the same seed start
from the same weights and see the samples in the same order, so they differ only in the loss.
"""

import time
import warnings
from typing import NamedTuple

from xent.fractions.data import bayes_limit
from xent.fractions.metrics import evaluate
from xent.fractions.training import train

#: The extra arm reported for weighted_cross_entropy: the same model, predicted with its
#: logit adjustment (``predict(x, adjust=True)``).
ADJUSTED_ARM = "weighted_cross_entropy_adjusted"


class ExperimentResult(NamedTuple):
    """What `run_experiment` returns."""

    results: object  #: pandas DataFrame, one row per (arm, seed): arm, seed, seconds, metrics
    histories: dict  #: arm -> [model.history for each seed]
    bayes_limit: float | None  #: of the test targets, if the test set has true fractions


def run_experiment(
    train_data,
    test_data,
    losses,
    seeds=(0,),
    *,
    val_data=None,
    backend="numpy",
    class_names=None,
    progress=False,
    **train_kwargs,
):
    """Train every loss in `losses` with every seed in `seeds`; evaluate each on `test_data`.

    The data sets need ``x`` and ``targets`` (a `SyntheticData` or `BudgetShares`, or any
    object with those fields). When the test set also has true ``fractions`` (synthetic data)
    the metrics compare with them (``mse`` is then the excess MSE, ``mse_targets`` the MSE on the
    noisy targets) and the result carries the Bayes limit; otherwise they compare with the test
    targets. `val_data` gives the learning curves validation metrics; `train_kwargs` go to
    `train` (optimizer, lr, epochs, batch_size, ...). A run that diverges gets a warning and a
    row with ``diverged`` True and no metrics.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    seeds = list(seeds)
    true = getattr(test_data, "fractions", None)
    reference, targets = (test_data.targets, None) if true is None else (true, test_data.targets)
    val = {}
    if val_data is not None:
        val = {"x_val": val_data.x, "y_val": val_data.targets}
        val["true_val"] = getattr(val_data, "fractions", None)
    rows, histories = [], {}
    runs = [(loss, seed) for loss in losses for seed in seeds]
    bar = tqdm(runs, desc="training", disable=not progress)
    for loss, seed in bar:
        bar.set_postfix(loss=loss, seed=seed)
        start = time.perf_counter()
        try:
            model = train(
                train_data.x,
                train_data.targets,
                loss,
                backend,
                seed=seed,
                **val,
                **train_kwargs,
            )
        except FloatingPointError as err:
            warnings.warn(f"{loss}, seed {seed}: {err}", RuntimeWarning, stacklevel=2)
            rows.append({"arm": loss, "seed": seed, "diverged": True})
            continue
        seconds = time.perf_counter() - start
        histories.setdefault(loss, []).append(model.history)
        arms = [(loss, False)] + (
            [(ADJUSTED_ARM, True)] if model.logit_adjustment is not None else []
        )
        for arm, adjust in arms:
            metrics = evaluate(model.predict(test_data.x, adjust), reference, targets, class_names)
            rows.append(
                {"arm": arm, "seed": seed, "diverged": False, "seconds": seconds, **metrics}
            )
    n_people = getattr(test_data, "n_people", None)
    limit = None if true is None or n_people is None else bayes_limit(true, n_people)
    return ExperimentResult(pd.DataFrame(rows), histories, limit)


def summarize(results, metrics=None, baseline="cross_entropy"):
    """Mean and standard deviation over seeds per arm (in the order of first appearance).

    Returns a DataFrame indexed by arm with columns (metric, "mean"), (metric, "std") and, when
    the `baseline` arm is present, (metric, "ratio") = the arm's mean / the baseline's mean.
    `metrics` defaults to every numeric column except seed and seconds.
    """
    import pandas as pd

    if metrics is None:
        skip = {"arm", "seed", "diverged", "seconds"}
        metrics = [c for c in results.columns if c not in skip and results[c].dtype.kind == "f"]
    grouped = results.groupby("arm", sort=False)[list(metrics)]
    mean, std = grouped.mean(), grouped.std()
    parts = {"mean": mean, "std": std}
    if baseline in mean.index:
        parts["ratio"] = mean / mean.loc[baseline]
    table = pd.concat(parts, axis=1).swaplevel(axis=1)
    order = [(m, stat) for m in metrics for stat in parts]
    return table[order]
