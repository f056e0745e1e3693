"""Shared by every test: each test ends with the process environment the session started with.

The CLI steps set thread variables (OMP_NUM_THREADS, ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS, ...)
in ``os.environ`` on purpose: a step is its own process, and libraries loaded later read them.
Tests run steps in-process, also from module- and session-scoped fixtures, so without this a
``--threads 1`` would reach every subprocess started by later tests (it once made a SLURM
bring-up see one CPU). The snapshot is taken when pytest loads this file, before any fixture.
"""

import os

import pytest

_SESSION_ENVIRONMENT = dict(os.environ)
_PYTEST_OWN = {"PYTEST_CURRENT_TEST"}  # pytest sets and removes it around each test itself


@pytest.fixture(autouse=True)
def _restore_environment():
    yield
    for key in set(os.environ) - set(_SESSION_ENVIRONMENT) - _PYTEST_OWN:
        del os.environ[key]
    for key, value in _SESSION_ENVIRONMENT.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
