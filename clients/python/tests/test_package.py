"""The package installs with pip and works from where it was installed; the README's Python
examples are the files the live tests run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from conftest import PACKAGE

REPO = os.path.dirname(os.path.dirname(PACKAGE))


def test_pip_installs_the_package(tmp_path):
    target = tmp_path / "site"
    # From a copy: setuptools builds in the project folder, and the checkout stays clean.
    source = tmp_path / "source"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info"))
    # --no-build-isolation: build with the setuptools already here instead of fetching one.
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert install.returncode == 0, install.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import skynet, os; print(skynet.__file__); print(os.path.exists(os.path.join(os.path.dirname(skynet.__file__), 'py.typed'))); print(skynet.__version__)"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert probe.returncode == 0, probe.stderr
    where, typed, version = probe.stdout.split()
    assert where.startswith(str(target)) and typed == "True" and version == "0.1.0"


def test_readme_examples_are_the_tested_files():
    blocks = []
    for readme in (os.path.join(REPO, "README.md"), os.path.join(PACKAGE, "README.md")):
        with open(readme) as f:
            blocks += re.findall(r"```python\n(.*?)```", f.read(), re.S)
    assert blocks, "the READMEs show Python examples"
    sources = ""
    for name in os.listdir(os.path.join(PACKAGE, "examples")):
        with open(os.path.join(PACKAGE, "examples", name)) as f:
            sources += f.read() + "\n"
    for block in blocks:
        assert block in sources, f"README example not found verbatim in clients/python/examples:\n{block}"


def test_the_package_type_checks_strictly():
    # It ships py.typed: its annotations are a promise to its users' type checkers.
    check = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "--cache-dir", os.devnull,
                            os.path.join(PACKAGE, "skynet")], capture_output=True, text=True, timeout=300, cwd=PACKAGE)
    assert check.returncode == 0, check.stdout + check.stderr
