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


def pytest_collection_modifyitems(config, items):
    """Order the test files so that two pytest-xdist workers (`make test`) keep both busy.

    `make test` hands out whole files (``--dist loadfile --no-loadscope-reorder``), in this
    order: the file that first needs the tiny workflow run (session fixture ``tiny_run``,
    built once and shared by the workers: tests/workflow/conftest.py); then the slow files
    that do not need it and half the fast ones, so that the other worker has work while it
    is built (a worker given a file that needs it waits: 167 s of 13 min, measured under
    load, when only the slow files came first); then the other files that need it, and last
    the other half of the fast files, which fill the gaps at the end.
    Within a file the order stays as written. Tests do not depend on their order, so a plain
    ``pytest`` run gets the same order and the same results.
    """
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def kind(tests) -> str:
        if any("tiny_run" in t.fixturenames for t in tests):
            return "tiny"
        return "slow" if any(t.get_closest_marker("slow") for t in tests) else "fast"

    kinds = {path: kind(tests) for path, tests in files.items()}
    tiny = [p for p in files if kinds[p] == "tiny"]
    fast = [p for p in files if kinds[p] == "fast"]
    order = tiny[:1] + [p for p in files if kinds[p] == "slow"] + fast[::2] + tiny[1:] + fast[1::2]
    items[:] = [t for path in order for t in files[path]]
