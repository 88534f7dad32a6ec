"""environment.yml (conda, Binder) must say the same as the pins in pyproject.toml."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def _pins():
    """Every requirement of the project and its extras (self-references left out)."""
    project = PYPROJECT["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra if not r.startswith(project["name"])]
    return reqs


def _conda_and_pip():
    deps = ENVIRONMENT["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    return conda, pip


def test_every_pin_is_exact_and_declared_once():
    names = [r.name.lower() for r in _pins()]
    assert len(names) == len(set(names)), "a package is pinned twice"
    for req in _pins():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{req} is not pinned exactly"


def test_the_frameworks_are_the_ones_on_this_disk():
    pins = {r.name: str(r.specifier) for r in _pins()}
    assert pins["torch"] == "==2.13.0"  # any other version downloads a multi-GB CUDA build
    assert pins["tensorflow"] == "==2.21.0"
    assert pins["jupyter-book"] == "==1.0.4.post1"  # 2.x cannot build offline


def test_environment_yml_is_a_thin_wrapper_over_pyproject():
    conda, pip = _conda_and_pip()
    python = next(c for c in conda if c.startswith("python"))
    version = re.fullmatch(r"python=(\d+\.\d+)", python).group(1)
    assert Requirement(f"python=={version}.0").specifier.contains(f"{version}.0")
    assert f">={version}" in PYPROJECT["project"]["requires-python"]
    assert "pip" in conda
    assert set(conda) == {python, "pip"}, "conda packages would bypass the pins in pyproject"
    (install,) = pip
    match = re.fullmatch(r"-e \.\[(.+)\]", install)
    assert match, install
    extras = set(match.group(1).split(","))
    assert extras <= set(PYPROJECT["project"]["optional-dependencies"])
    # the extras installed must cover every pin
    assert "all" in extras


def test_the_installed_environment_matches_the_pins():
    for req in _pins():
        installed = metadata.version(req.name)
        assert req.specifier.contains(installed, prereleases=True), (
            f"{req.name} {installed} != {req}"
        )
