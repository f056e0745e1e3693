"""Shared by every test: each test starts and ends with the same process environment.

The CLI steps set thread variables (OMP_NUM_THREADS, ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS, ...)
in ``os.environ`` on purpose: a step is its own process, and libraries loaded later read them.
Tests run steps in-process, so without this a test's ``--threads 1`` would reach every
subprocess started by later tests (it once made a SLURM bring-up see one CPU).
"""

import os

import pytest


@pytest.fixture(autouse=True)
def _restore_environment():
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)
