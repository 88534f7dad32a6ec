"""The package as a user meets it: cheap to import, quiet, same names everywhere."""

import importlib
import inspect
import subprocess
import sys

import pytest

import xent


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_import_xent_imports_no_framework():
    out = _run(
        "import sys, xent; print(sorted(m for m in ('torch', 'tensorflow') if m in sys.modules))"
    )
    assert out.stdout.strip() == "[]"


def test_tensorflow_backend_is_quiet():
    """TensorFlow's start-up log lines must not reach stderr (they would show in the book)."""
    out = _run("import xent.tensorflow as x; print(float(x.logsumexp([0.0, 0.0])))")
    assert out.stderr == ""
    assert out.stdout.startswith("0.693")


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_same_names_and_signatures_as_numpy(backend):
    numpy_backend = importlib.import_module("xent.numpy")
    other = importlib.import_module(f"xent.{backend}")
    for name in xent.FUNCTIONS + xent.HELPERS:
        assert inspect.signature(getattr(other, name)) == inspect.signature(
            getattr(numpy_backend, name)
        )


def test_numpy_has_the_derived_gradients():
    import xent.numpy as xnp

    for name in ("softmax_cross_entropy", "sparse_softmax_cross_entropy", "sigmoid_cross_entropy"):
        assert callable(getattr(xnp, f"{name}_grad"))
