"""Cross-entropy, forward + gradient: our three backends against the frameworks' built-ins.

A benchmark, not a test: it times, it does not pass or fail. Run it from the repository root:

    .venv/bin/python benchmarks/cross_entropy.py              # full settings: a few minutes
    .venv/bin/python benchmarks/cross_entropy.py --quick      # float32, two sizes: about 30 s
    .venv/bin/python benchmarks/cross_entropy.py --threads 2 --sizes 4096x1000 --json out.json

Every implementation computes the per-example losses and the gradient of their sum with respect
to the logits, on the same inputs:

- xent.numpy: the fused `*_value_and_grad` functions;
- xent.torch with autograd, xent.tensorflow with GradientTape (eager);
- the built-ins: torch.nn.functional.cross_entropy / binary_cross_entropy_with_logits with
  autograd, and tf.nn.*_cross_entropy_with_logits under GradientTape, eager and in tf.function.

How it measures:

- A fresh worker process runs everything, with every framework limited to the same number of
  threads (NumPy's BLAS, torch intra-op, TF intra-op; one op at a time), set in its environment
  before the frameworks start. Per configuration the implementations take turns (see
  `time_in_rounds`); each turn starts with an untimed call. Median and minimum are reported,
  and the median number of minor page faults per call.
- Peak extra memory of one warm call, outputs included (the gradient alone is one logits-sized
  buffer): NumPy with tracemalloc (NumPy reports its buffers to it); torch as the growth of the
  resident set's high-water mark (VmHWM, reset through /proc/self/clear_refs), after
  malloc_trim has returned the pages of glibc's free blocks, so that reused memory shows too;
  TensorFlow with its allocator's own peak counter, because it keeps freed memory and its
  resident set does not grow (the counter misses small blocks: no number below one buffer).
- Accuracy against the mpmath reference (`xent.reference`) on the first rows only (mpmath is
  slow): half of them ordinary rows (max error of the loss in ulps), half confident and correct
  rows whose loss is about e^-20 (max relative error), and the max error of the gradient in
  units of roundoff u. The logits are float32 numbers in both dtypes and the soft targets
  multiples of 2^-24 summing to exactly 1, so one reference serves float32 and float64.
  Sigmoid rows are scored on their first 256 entries.
"""

import argparse
import csv
import ctypes
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

KINDS = ("sparse", "softmax", "sigmoid")
KIND_TITLES = {
    "sparse": "sparse softmax cross-entropy (class indices)",
    "softmax": "softmax cross-entropy (soft targets)",
    "sigmoid": "sigmoid cross-entropy (element-wise)",
}
SIZES = ("4096x10", "4096x1000", "1024x32768")
DTYPES = ("float32", "float64")
FRAMEWORKS = ("numpy", "torch", "tensorflow")
MARGIN = 20.0  # confident rows: true logit = log-sum-exp of the row + MARGIN, loss ~ e^-20
SIGMOID_COLUMNS = 256  # entries of a sigmoid row scored against mpmath
FUNCTIONS = {
    "sparse": "sparse_softmax_cross_entropy",
    "softmax": "softmax_cross_entropy",
    "sigmoid": "sigmoid_cross_entropy",
}


# --- inputs


def parse_size(text):
    n, c = (int(v) for v in text.lower().split("x"))
    return n, c


def make_inputs(kind, n, c, sample_rows, seed=0):
    """(logits, targets) for one kind and size, in float32; `cast` gives the float64 twin.

    Logits are 2 * N(0, 1). The first sample_rows // 2 rows are confident and correct: the true
    logit is the log-sum-exp of the row plus MARGIN, so the loss is about e^-MARGIN whatever C
    is (for sigmoid, every entry is at least MARGIN from 0, on the side of its target). Soft
    targets are w / 2^24 with integers w summing to 2^24 in every row: exact in both dtypes,
    and every row sums to exactly 1.
    """
    rng = np.random.default_rng([seed, n, c, KINDS.index(kind)])
    x = rng.standard_normal((n, c), dtype=np.float32)
    x *= 2
    confident = sample_rows // 2
    if kind == "sigmoid":
        y = np.floor(rng.random((n, c), dtype=np.float32) * 2**24) / np.float32(2**24)
        side = y[:confident] >= 0.5
        x[:confident] = np.where(side, 1, -1) * (MARGIN + np.abs(x[:confident]))
        y[:confident] = side
        return x, y
    labels = rng.integers(0, c, n)
    top = np.arange(confident), labels[:confident]
    x[top] = np.logaddexp.reduce(x[:confident].astype(np.float64), axis=1) + MARGIN
    if kind == "sparse":
        return x, labels
    w = rng.random((n, c), dtype=np.float32)
    w *= w
    w *= w  # skewed weights
    w = np.floor(w * (2**24 / w.sum(axis=1, keepdims=True, dtype=np.float64)))
    w[np.arange(n), labels] += 2**24 - w.sum(axis=1)  # >= 0: floor only rounds down
    w[:confident] = 0
    w[top] = 2**24
    return x, (w / 2**24).astype(np.float32)  # multiples of 2^-24 up to 1: exact


def cast(inputs, dtype):
    """The same numbers in `dtype` (labels stay integers)."""
    return tuple(a.astype(dtype) if a.dtype.kind == "f" else a for a in inputs)


# --- the implementations, one list per framework
# Each entry is (name, is_builtin, make); make(logits, targets) prepares the framework's inputs
# once and returns call(), which computes (losses, gradient) and returns them as tensors.


def numpy_implementations(kind):
    import xent.numpy as xnp

    fn = getattr(xnp, f"{FUNCTIONS[kind]}_value_and_grad")
    return [("xent.numpy (fused)", False, lambda x, t: lambda: fn(x, t))]


def torch_implementations(kind):
    import torch
    import torch.nn.functional as F

    import xent.torch as xtorch

    def with_autograd(loss_fn):
        def make(x, t):
            xt, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t)

            def call():
                loss = loss_fn(xt, tt)
                return loss, torch.autograd.grad(loss.sum(), xt)[0]

            return call

        return make

    ours = getattr(xtorch, FUNCTIONS[kind])
    if kind == "sigmoid":
        label = "F.binary_cross_entropy_with_logits"

        def builtin(x, t):
            return F.binary_cross_entropy_with_logits(x, t, reduction="none")

    else:
        label = "F.cross_entropy"

        def builtin(x, t):
            return F.cross_entropy(x, t, reduction="none")

    return [
        ("xent.torch + autograd", False, with_autograd(ours)),
        (f"{label} + autograd", True, with_autograd(builtin)),
    ]


def tensorflow_implementations(kind):
    from xent._quiet import import_tensorflow

    tf = import_tensorflow()
    import xent.tensorflow as xtf

    def with_tape(loss_fn):
        def value_and_grad(x, t):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = loss_fn(x, t)
                total = tf.reduce_sum(loss)
            return loss, tape.gradient(total, x)

        return value_and_grad

    def taped(loss_fn, compile_it=False):
        def make(x, t):
            step, xt, tt = with_tape(loss_fn), tf.constant(x), tf.constant(t)
            step = tf.function(step) if compile_it else step
            return lambda: step(xt, tt)

        return make

    builtin_name = f"{FUNCTIONS[kind]}_with_logits"
    builtin_fn = getattr(tf.nn, builtin_name)

    def builtin(x, t):
        return builtin_fn(labels=t, logits=x)

    ours = getattr(xtf, FUNCTIONS[kind])
    return [
        ("xent.tensorflow + tape (eager)", False, taped(ours)),
        (f"tf.nn.{builtin_name} (eager)", True, taped(builtin)),
        (f"tf.nn.{builtin_name} (tf.function)", True, taped(builtin, compile_it=True)),
    ]


IMPLEMENTATIONS = {
    "numpy": numpy_implementations,
    "torch": torch_implementations,
    "tensorflow": tensorflow_implementations,
}


def as_numpy(value):
    return value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)


# --- measuring, inside the worker process


def time_in_rounds(calls, spec):
    """Seconds per call for each of `calls`, in turns: block 1, block 2, ..., block 1, ...

    A block is `warmup` untimed calls (after another implementation has run, the first call
    pays for refilling caches and the allocator's free lists; the first ever call also traces
    tf.functions) and then up to repeats / rounds timed calls, fewer once the block has taken
    budget / rounds seconds. An implementation whose timed calls have taken `budget` seconds
    sits out the remaining turns. Taking turns spreads a change in the machine's load over
    every implementation alike. Also counts the minor page faults of each timed call: fresh memory
    costs one fault per page touched (4 KiB, or 2 MiB with transparent huge pages).
    """
    rounds, per_block = spec["rounds"], -(-spec["repeats"] // spec["rounds"])
    times, faults = [[] for _ in calls], [[] for _ in calls]
    gc.collect()
    gc.disable()  # no collector pauses inside a timed call
    try:
        for _ in range(rounds):
            for call, seconds, faulted in zip(calls, times, faults, strict=True):
                if sum(seconds) >= spec["budget"]:
                    continue
                for _ in range(spec["warmup"]):
                    call()
                start = time.perf_counter()
                for _ in range(per_block):
                    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                    t0 = time.perf_counter()
                    call()
                    t1 = time.perf_counter()
                    seconds.append(t1 - t0)
                    faulted.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
                    if t1 - start > spec["budget"] / rounds:
                        break
    finally:
        gc.enable()
    return times, faults


def _proc_status_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_rss_growth(call):
    """(bytes by which one call raises the resident set's high-water mark, its result).

    malloc_trim first hands the pages of every free heap block back to the kernel, so memory
    the call reuses from glibc's free lists has to be faulted in again and counts.
    """
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident set size
    before = _proc_status_bytes("VmRSS")
    result = call()
    return _proc_status_bytes("VmHWM") - before, result


def peak_tracemalloc(call):
    """(bytes of the traced allocations' peak during one call, above the start, its result)."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before, result


def peak_tensorflow(call):
    """(bytes of TensorFlow's CPU allocator peak during one call, above the start, result)."""
    import tensorflow as tf

    tf.config.experimental.reset_memory_stats("CPU:0")
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    result = call()
    return tf.config.experimental.get_memory_info("CPU:0")["peak"] - before, result


MEMORY_METHODS = {
    "numpy": ("tracemalloc", peak_tracemalloc),
    "torch": ("RSS high-water mark", peak_rss_growth),
    "tensorflow": ("TF allocator peak", peak_tensorflow),
}


def configurations(spec):
    for kind in spec["kinds"]:
        for size in spec["sizes"]:
            for dtype in spec["dtypes"]:
                yield kind, size, dtype


def chosen_implementations(kind, spec):
    """(framework, name, is_builtin, make) for one kind, as the settings ask."""
    chosen = []
    for framework in spec["frameworks"]:
        for name, builtin, make in IMPLEMENTATIONS[framework](kind):
            if builtin or framework == "numpy" or spec["compare"] == "all":
                chosen.append((framework, name, builtin, make))
    return chosen


def run_worker(spec):
    """Time, measure and sample every configuration; one record per implementation."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(spec["threads"])  # NumPy's BLAS (the soft-target loss's dot products)
    if "torch" in spec["frameworks"]:
        import torch

        torch.set_num_threads(spec["threads"])
        torch.set_num_interop_threads(1)
    rows = spec["sample_rows"]
    records, made = [], {}
    for kind, size, dtype in configurations(spec):
        n, c = parse_size(size)
        if (kind, size) not in made:
            made = {(kind, size): make_inputs(kind, n, c, rows)}  # keep one size at a time
        x, t = cast(made[kind, size], dtype)
        chosen = chosen_implementations(kind, spec)
        calls = [make(x, t) for _, _, _, make in chosen]
        times, faults = time_in_rounds(calls, spec)
        for (framework, name, builtin, _), call, seconds, faulted in zip(
            chosen, calls, times, faults, strict=True
        ):
            method, measure = MEMORY_METHODS[framework]
            gc.collect()
            peak, (loss, grad) = measure(call)
            loss, grad = as_numpy(loss), as_numpy(grad)
            if kind == "sigmoid":  # per entry: score the first columns only
                loss = loss[:, :SIGMOID_COLUMNS]
                grad = grad[:, :SIGMOID_COLUMNS]
            records.append(
                {
                    "kind": kind,
                    "size": size,
                    "n": n,
                    "c": c,
                    "dtype": dtype,
                    "implementation": name,
                    "framework": framework,
                    "builtin": builtin,
                    "median_ms": 1e3 * float(np.median(seconds)),
                    "min_ms": 1e3 * float(np.min(seconds)),
                    "calls": len(seconds),
                    "faults_per_call": float(np.median(faulted)),
                    # below the gradient's own size the method missed allocations (TF's
                    # allocator does not count small blocks): better unmeasured than wrong
                    "peak_bytes": int(peak) if peak >= x.nbytes else None,
                    "memory_method": method,
                    "logits_bytes": int(x.nbytes),
                    "sample_loss": loss[:rows].tolist(),
                    "sample_grad": grad[:rows].tolist(),
                }
            )
            del loss, grad
        del calls, x, t
        gc.collect()
    return records


# --- the parent: run the worker, score, print


def worker_environment(threads):
    """The thread limits, set before any framework starts its thread pools."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["TF_NUM_INTRAOP_THREADS"] = str(threads)
    env["TF_NUM_INTEROP_THREADS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # TensorFlow keeps allocator statistics on the CPU only with a BFC allocator, which it
    # picks by default only where oneDNN is on (Intel CPUs): ask for it on every CPU (AMD too)
    env["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
    return env


def run_worker_process(spec):
    """run_worker in a fresh Python process with the thread limits in its environment."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env=worker_environment(spec["threads"]),
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"the benchmark worker failed (exit status {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def references(kind, size, rows, with_grad):
    """mpmath values (and gradients) of the sample rows of one configuration."""
    from xent import reference

    n, c = parse_size(size)
    x, t = cast((a[:rows] for a in make_inputs(kind, n, c, rows)), np.float64)
    if kind == "sigmoid":
        x, t = x[:, :SIGMOID_COLUMNS], t[:, :SIGMOID_COLUMNS]
    loss = getattr(reference, FUNCTIONS[kind])(x, t)
    grad = getattr(reference, f"{FUNCTIONS[kind]}_grad")(x, t) if with_grad else None
    return loss, grad


def score(records, spec):
    """Add the accuracy columns: loss ulps (ordinary rows), relative error (confident rows)."""
    from xent import reference

    rows, confident = spec["sample_rows"], spec["sample_rows"] // 2
    cache = {}
    for record in records:
        key = record["kind"], record["size"]
        if key not in cache:
            cache[key] = references(*key, rows, spec["grad_accuracy"])
        exact, exact_grad = cache[key]
        dtype = np.dtype(record["dtype"])
        loss = np.array(record.pop("sample_loss"), dtype=dtype)
        grad = np.array(record.pop("sample_grad"), dtype=dtype)
        record["loss_ulp"] = float(np.max(reference.ulp_error(loss[confident:], exact[confident:])))
        record["confident_rel"] = float(
            np.max(reference.relative_error(loss[:confident], exact[:confident]), initial=0.0)
        )
        record["grad_err_u"] = None
        if exact_grad is not None:
            err = np.abs(grad.astype(np.float64) - reference.to_float(exact_grad))
            record["grad_err_u"] = float(err.max() / (np.finfo(dtype).eps / 2))
    return records


def add_ratios(records):
    """Each median over the fastest built-in's median in the same configuration."""
    best = {}
    for r in records:
        if r["builtin"]:
            key = r["kind"], r["size"], r["dtype"]
            best[key] = min(best.get(key, np.inf), r["median_ms"])
    for r in records:
        key = r["kind"], r["size"], r["dtype"]
        r["ratio_to_best_builtin"] = r["median_ms"] / best[key] if key in best else None
    return records


def environment(spec):
    import importlib.metadata as md

    versions = {}
    for package in ("numpy", "torch", "tensorflow", "mpmath"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = None
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        "transparent_hugepage": thp.read_text().strip() if thp.exists() else None,
        "THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE"),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "threads": spec["threads"],
    }


def _fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def buffers(record):
    """Peak extra memory in logits-sized buffers (None where not measured)."""
    peak = record["peak_bytes"]
    return None if peak is None else peak / record["logits_bytes"]


def format_table(records, spec):
    lines = []
    order = {name: i for i, name in enumerate(FRAMEWORKS)}
    for kind, size, dtype in configurations(spec):
        group = [r for r in records if (r["kind"], r["size"], r["dtype"]) == (kind, size, dtype)]
        if not group:
            continue
        group.sort(key=lambda r: (r["builtin"], order[r["framework"]]))
        mib = group[0]["logits_bytes"] / 2**20
        n, c = parse_size(size)
        lines.append(f"\n{KIND_TITLES[kind]}, {n} x {c}, {dtype}   (logits: {mib:.1f} MiB)")
        lines.append(
            f"  {'implementation':<58}{'median (min) ms':>20}{'vs best':>9}"
            f"{'faults':>8}{'peak MiB (x logits)':>22}{'loss ulp':>10}{'conf. rel':>11}"
            f"{'grad/u':>8}"
        )
        for r in group:
            peak = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.1f}"
            times = f"{r['median_ms']:.2f} ({r['min_ms']:.2f})"
            lines.append(
                f"  {r['implementation']:<58}{times:>20}"
                f"{_fmt(r['ratio_to_best_builtin'], '.2f'):>8}x"
                f"{r['faults_per_call']:>8.0f}{peak:>14} ({_fmt(buffers(r), '.2f'):>4})"
                f"{_fmt(r['loss_ulp'], '.1f'):>10}"
                f"{_fmt(r['confident_rel'], '.0e'):>11}"
                f"{_fmt(r['grad_err_u'], '.1f'):>8}"
            )
    return "\n".join(lines)


def target_check(records):
    """The issue's target: xent.numpy (fused) against F.cross_entropy, float32, large sizes."""
    lines = []
    for kind in ("sparse", "softmax"):
        for size in ("4096x1000", "1024x32768"):

            def pick(prefix, kind=kind, size=size):
                found = [
                    r
                    for r in records
                    if (r["kind"], r["size"], r["dtype"]) == (kind, size, "float32")
                    and r["implementation"].startswith(prefix)
                ]
                return found[0] if found else None

            ours, torch_ = pick("xent.numpy"), pick("F.cross_entropy")
            if ours is None or torch_ is None:
                continue
            ratio = ours["median_ms"] / torch_["median_ms"]
            verdict = "met" if ratio <= 1 and buffers(ours) < 1.1 else "NOT met"
            lines.append(
                f"  {kind:<8}{size:>11}: numpy {ours['median_ms']:8.2f} ms, torch "
                f"{torch_['median_ms']:8.2f} ms, ratio {ratio:5.2f}; numpy peak "
                f"{buffers(ours):4.2f} x logits (torch {_fmt(buffers(torch_), '4.2f')})"
                f"  -> {verdict}"
            )
    if not lines:
        return ""
    return (
        "\nTarget: xent.numpy fused no slower than F.cross_entropy + autograd (float32, medians) "
        "and at most one logits-sized buffer\n" + "\n".join(lines)
    )


def write_csv(records, path):
    fields = [k for k in records[0] if not k.startswith("sample_")]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)


FULL = {
    "sizes": list(SIZES),
    "dtypes": list(DTYPES),
    "kinds": list(KINDS),
    "compare": "all",
    "repeats": 10,
    "rounds": 2,
    "budget": 1.0,
    "warmup": 1,
    "sample_rows": 4,
    "grad_accuracy": True,
}
QUICK = {
    "sizes": ["4096x1000", "1024x32768"],
    "dtypes": ["float32"],
    "kinds": ["sparse", "softmax"],
    "compare": "numpy",
    "repeats": 4,
    "rounds": 2,
    "budget": 0.4,
    "warmup": 1,
    "sample_rows": 2,
    "grad_accuracy": False,
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Time, measure and score cross-entropy forward + gradient in NumPy, "
        "PyTorch and TensorFlow (the module docstring explains the method). Options left "
        "out take the full settings, or with --quick the quick ones.",
    )
    p.add_argument("--quick", action="store_true", help=f"quick settings: {QUICK}")
    p.add_argument("--sizes", nargs="+", help=f"N x C (full: {' '.join(SIZES)})")
    p.add_argument("--dtypes", nargs="+", choices=DTYPES)
    p.add_argument("--kinds", nargs="+", choices=KINDS)
    p.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    p.add_argument(
        "--compare",
        choices=("all", "numpy"),
        help="all: our three backends and the built-ins; numpy: xent.numpy and the built-ins",
    )
    p.add_argument("--threads", type=int, default=1, help="threads for every framework")
    p.add_argument("--repeats", type=int, help="most timed calls per implementation (>= 3)")
    p.add_argument("--rounds", type=int, help="turns the implementations take (>= 1)")
    p.add_argument("--budget", type=float, help="seconds of timed calls per implementation")
    p.add_argument("--warmup", type=int, help="untimed calls at the start of each turn")
    p.add_argument("--sample-rows", type=int, help="rows scored against mpmath (>= 2)")
    p.add_argument("--no-grad-accuracy", action="store_true", help="skip mpmath gradients")
    p.add_argument("--json", type=Path, help="write settings, environment and results here")
    p.add_argument("--csv", type=Path, help="write the results table here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    spec = settings(args)
    for size in spec["sizes"]:
        try:
            n, c = parse_size(size)
        except ValueError:
            p.error(f"a size is N x C, like 4096x1000: got {size!r}")
        if n < spec["sample_rows"] or c < 1:
            p.error(f"size {size} has fewer rows than --sample-rows ({spec['sample_rows']})")
    if min(spec["threads"], spec["rounds"], spec["warmup"] + 1) < 1 or spec["repeats"] < 3:
        p.error("need --threads >= 1, --rounds >= 1, --warmup >= 0 and --repeats >= 3")
    if spec["sample_rows"] < 2:
        p.error("need --sample-rows >= 2: one ordinary row and one confident row at least")
    return args, spec


def settings(args):
    """The run's settings: the options given, the rest from QUICK or FULL."""
    spec = dict(QUICK if args.quick else FULL)
    for key in ("sizes", "dtypes", "kinds", "compare", "repeats", "rounds", "budget", "warmup"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    if args.sample_rows is not None:
        spec["sample_rows"] = args.sample_rows
    if args.no_grad_accuracy:
        spec["grad_accuracy"] = False
    spec["frameworks"] = args.frameworks
    spec["threads"] = args.threads
    return spec


def run(spec, log=print):
    """Run the worker, score its samples against mpmath; (records, environment)."""
    start = time.perf_counter()
    records = run_worker_process(spec)
    log(f"[timing and memory: {time.perf_counter() - start:.0f} s]")
    start = time.perf_counter()
    score(records, spec)
    log(f"[mpmath reference: {time.perf_counter() - start:.0f} s]")
    return add_ratios(records), environment(spec)


def report(records, env, spec):
    """The whole printed report: what ran where, the tables, the target."""
    header = [
        f"Cross-entropy forward + gradient on {env['cpu']} ({env['cores']} cores), "
        f"{spec['threads']} thread(s) per framework",
        f"numpy {env['versions']['numpy']}, torch {env['versions']['torch']}, tensorflow "
        f"{env['versions']['tensorflow']}; transparent hugepages: {env['transparent_hugepage']}",
        f"Times: median (min) of up to {spec['repeats']} calls per implementation, in "
        f"{spec['rounds']} turns of {spec['warmup']} untimed + timed calls; 'vs best': median / "
        "fastest built-in's median; faults: median minor page faults per call.",
        "Peak: extra memory of one call, outputs included (numpy: tracemalloc; torch: RSS "
        "high-water mark; tensorflow: its allocator's peak).",
        f"Accuracy on the first {spec['sample_rows']} rows: loss error in ulps on ordinary "
        "rows, relative error on confident ones (loss ~ e^-20), gradient error in units of u.",
    ]
    return "\n".join(header) + "\n" + format_table(records, spec) + "\n" + target_check(records)


def main(argv=None):
    args, spec = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(json.loads(sys.stdin.read()))))
        return
    records, env = run(spec, log=lambda text: print(text, file=sys.stderr))
    print(report(records, env, spec))
    if args.json:
        text = json.dumps({"settings": spec, "environment": env, "results": records}, indent=1)
        args.json.write_text(text)
    if args.csv:
        write_csv(records, args.csv)


if __name__ == "__main__":
    main()
