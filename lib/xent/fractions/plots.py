"""The experiment's two figures: learning curves and per-class bars, one colour per arm.

Both functions draw into `ax` if given (e.g. from ``plt.subplots()`` in a notebook) and
otherwise into a new matplotlib Figure (no pyplot, so no GUI backend is needed); both return
the axes (``ax.figure.savefig(...)`` saves it).
"""

import numpy as np

from xent.fractions.experiment import ADJUSTED_ARM
from xent.fractions.losses import LOSSES

# One colour per arm in every figure, whichever arms a figure shows.
_ARMS = (*LOSSES, ADJUSTED_ARM)


def arm_colour(arm):
    """The colour of `arm` in every figure (matplotlib's "C0", "C1", ...; grey if unknown)."""
    return f"C{_ARMS.index(arm)}" if arm in _ARMS else "grey"


def _legend(ax, n):
    ax.legend(fontsize="small", ncols=min(n, 4), loc="lower center", bbox_to_anchor=(0.5, 1.0))


def _axes(ax, figsize):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").subplots()


def plot_learning_curves(histories, key="val_mse", ax=None, logy=True, bayes_limit=None):
    """`key` of each arm's histories against the epoch: the mean over seeds, and a min-max band.

    `histories` maps arm -> list of `FractionMLP.history` dicts (`ExperimentResult.histories`).
    `bayes_limit`, if given, is drawn as a dashed line (useful with key="val_mse_targets").
    """
    ax = _axes(ax, (6.4, 4.0))
    for arm, runs in histories.items():
        curves = np.array([run[key] for run in runs], dtype=np.float64)
        epochs = runs[0]["epoch"]
        colour = arm_colour(arm)
        ax.plot(epochs, curves.mean(axis=0), color=colour, label=arm)
        if len(runs) > 1:
            ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=colour, alpha=0.2)
    if bayes_limit is not None:
        ax.axhline(bayes_limit, color="black", linestyle="--", linewidth=1, label="Bayes limit")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    _legend(ax, len(histories) + (bayes_limit is not None))
    return ax


def plot_per_class(results, prefix="rel_error_", ax=None, logy=True):
    """Grouped bars, one group per class, one bar per arm: the mean over seeds, +- one std.

    `results` is `ExperimentResult.results` (one row per arm and seed); the classes are its
    columns that start with `prefix` (by default the per-class median relative errors).
    """
    ax = _axes(ax, (7.2, 4.0))
    columns = [c for c in results.columns if c.startswith(prefix)]
    grouped = results.groupby("arm", sort=False)[columns]
    mean, std = grouped.mean(), grouped.std().fillna(0.0)
    positions = np.arange(len(columns))
    width = 0.8 / len(mean)
    for i, arm in enumerate(mean.index):
        ax.bar(
            positions + (i - (len(mean) - 1) / 2) * width,
            mean.loc[arm],
            width,
            yerr=std.loc[arm],
            capsize=2,
            color=arm_colour(arm),
            label=arm,
        )
    ax.set_xticks(positions, [c.removeprefix(prefix) for c in columns])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("class")
    ax.set_ylabel(prefix.rstrip("_"))
    _legend(ax, len(mean))
    return ax
