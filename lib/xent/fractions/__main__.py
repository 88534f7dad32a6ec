"""python -m xent.fractions: the capstone experiment from the command line.

Draws synthetic training, validation and test sets with the same teacher, trains every loss
with every seed, prints a table of the test metrics (mean +- std over seeds, ratios to
cross-entropy, the Bayes limit) and writes CSV tables and two figures to --out.

    python -m xent.fractions --backend torch --loss cross_entropy mse --seeds 5
    python -m xent.fractions --optimizer adam --loss cross_entropy mse fisher_mse
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from xent.fractions.data import BASE_RATES, make_synthetic
from xent.fractions.experiment import run_experiment, summarize
from xent.fractions.losses import LOSSES
from xent.fractions.models import ACTIVATIONS
from xent.fractions.training import BACKENDS, DEFAULT_LR, OPTIMIZERS

DEFAULT_LOSSES = ("cross_entropy", "mse", "mse_mean_over_classes")


def _number(kind, minimum, strict):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not np.isfinite(value) or value < minimum or (strict and value == minimum):
            bound = f"> {minimum}" if strict else f">= {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    return parse


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m xent.fractions",
        description="Train softmax networks on six-class fractions with several losses and "
        "compare them with the truth known (synthetic data, multinomial noise).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    positive, count = _number(int, 1, False), _number(int, 0, False)
    p.add_argument("--backend", choices=BACKENDS, default="numpy", help="who computes gradients")
    p.add_argument(
        "--loss",
        nargs="+",
        choices=tuple(LOSSES),
        default=list(DEFAULT_LOSSES),
        metavar="LOSS",
        help=f"one or more of: {', '.join(LOSSES)}",
    )
    p.add_argument("--seeds", type=positive, default=3, help="number of seeds (0, 1, ...)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="plain SGD or Adam")
    p.add_argument(
        "--lr",
        type=_number(float, 0.0, True),
        default=None,
        help="learning rate; None: " + ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_LR.items()),
    )
    p.add_argument("--epochs", type=positive, default=30, help="passes over the training set")
    p.add_argument("--batch-size", type=positive, default=128, help="samples per update")
    p.add_argument("--n-train", type=positive, default=20_000, help="training groups")
    p.add_argument(
        "--n-val", type=count, default=2_000, help="validation groups (0: no learning curves)"
    )
    p.add_argument("--n-test", type=positive, default=20_000, help="test groups")
    p.add_argument("--n-people", type=positive, default=100, help="group size behind a target")
    p.add_argument(
        "--strength", type=_number(float, 0.0, False), default=3.0, help="how much x matters"
    )
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu", help="hidden units")
    p.add_argument("--data-seed", type=count, default=0, help="draws the three data sets")
    p.add_argument("--out", type=Path, default=Path("build/fractions"), help="output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    args.loss = list(dict.fromkeys(args.loss))  # each arm once, in the order given
    return args


def format_table(summary, columns):
    """The summary as text: 'mean ± std' for each (metric, label) in `columns`, ratios as x."""
    import pandas as pd

    table = pd.DataFrame(index=summary.index)
    for metric, label in columns:
        mean, std = summary[(metric, "mean")], summary[(metric, "std")]
        table[label] = [
            f"{m:.4g}" if np.isnan(s) else f"{m:.4g} ± {s:.2g}"
            for m, s in zip(mean, std, strict=True)
        ]
        if (metric, "ratio") in summary and metric in ("mse", "mse_targets", "kl"):
            table[f"{label} / CE"] = [f"{r:.2f}x" for r in summary[(metric, "ratio")]]
    return table.to_string()


def main(argv=None):
    args = parse_args(argv)
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    knobs = {"n_people": args.n_people, "strength": args.strength}
    seed = 3 * args.data_seed
    train_data = make_synthetic(args.n_train, seed=seed, **knobs)
    val_data = make_synthetic(args.n_val, seed=seed + 1, **knobs) if args.n_val else None
    test_data = make_synthetic(args.n_test, seed=seed + 2, **knobs)
    print(
        f"{args.n_train} training, {args.n_val} validation, {args.n_test} test groups of "
        f"{args.n_people} people; backend {args.backend}, {args.optimizer} lr={lr:g}, "
        f"{args.epochs} epochs, batch {args.batch_size}, {args.seeds} seed(s)",
        flush=True,
    )
    result = run_experiment(
        train_data,
        test_data,
        args.loss,
        range(args.seeds),
        val_data=val_data,
        backend=args.backend,
        progress=not args.no_progress,
        optimizer=args.optimizer,
        lr=lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        activation=args.activation,
    )
    summary = summarize(result.results)
    smallest = str(int(np.argmin(BASE_RATES)))
    columns = [
        ("mse_targets", "test MSE"),
        ("mse", "excess MSE"),
        ("kl", "KL"),
        (f"rel_error_{smallest}", f"rel.err class {smallest}"),
        ("seconds", "seconds"),
    ]
    summary_shown = summarize(result.results, [m for m, _ in columns])
    print()
    print(format_table(summary_shown, columns))
    print(
        f"\nBayes limit of the test MSE: {result.bayes_limit:.4g} (test MSE = Bayes limit + "
        "excess MSE, up to noise). MSE: squared error summed over the 6 classes, mean over "
        "groups; KL = KL(true || predicted); / CE = ratio of means to cross_entropy."
    )

    args.out.mkdir(parents=True, exist_ok=True)
    result.results.to_csv(args.out / "results.csv", index=False)
    summary.to_csv(args.out / "summary.csv")
    written = [args.out / "results.csv", args.out / "summary.csv"]
    written += _figures(result, args.out)
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0


def _figures(result, out):
    from matplotlib.figure import Figure

    from xent.fractions.plots import plot_learning_curves, plot_per_class

    paths = []
    if result.histories and "val_mse" in next(iter(result.histories.values()))[0]:
        fig = Figure(figsize=(11, 4), layout="constrained")
        left, right = fig.subplots(1, 2)
        plot_learning_curves(result.histories, "val_mse", ax=left)
        left.set_ylabel("validation excess MSE")
        plot_learning_curves(result.histories, "val_kl", ax=right)
        right.set_ylabel("validation KL(true || predicted)")
        paths.append(out / "learning_curves.png")
        fig.savefig(paths[-1], dpi=120)
    ok = result.results[~result.results["diverged"]]
    if len(ok):
        ax = plot_per_class(ok)
        ax.set_ylabel("median relative error |p - p*| / p* (test)")
        paths.append(out / "relative_errors.png")
        ax.figure.savefig(paths[-1], dpi=120)
    return paths


if __name__ == "__main__":
    sys.exit(main())
