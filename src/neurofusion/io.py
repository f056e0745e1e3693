"""Small I/O helpers shared by every stage: all-or-nothing outputs, Parquet, JSON."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: Path, final: Path) -> None:
    """Give the temporary file the permissions a normal write would have, then rename it."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, final)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    A failing step therefore never leaves a partial file where the next step (or
    Snakemake) would take it for a finished output. The temporary name keeps the
    final suffixes so writers that infer the format from the name still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _publish(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def all_or_nothing(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Like :func:`atomic_output` for several outputs written by one step.

    Either every output is renamed into place, or none is (and stale ones from an
    earlier run of the same step are removed, so nothing half-updated survives).
    """
    final = [Path(p) for p in paths]
    tmps = []
    try:
        for p in final:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp" + "".join(p.suffixes), dir=p.parent)
            os.close(fd)
            tmps.append(Path(tmp))
        yield tmps
        for tmp, p in zip(tmps, final):
            _publish(tmp, p)
    except BaseException:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        for p in final:
            p.unlink(missing_ok=True)
        raise


def _to_jsonable(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, data) -> None:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_to_jsonable) + "\n")


def read_json(path: str | os.PathLike):
    from .errors import NeurofusionError

    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise NeurofusionError("file not found", path=path, fix="check the path or rerun the step that writes it")
    except json.JSONDecodeError as exc:
        raise NeurofusionError(f"not valid JSON ({exc.msg} at line {exc.lineno})", path=path,
                               fix="delete it and rerun the step that writes it")
