import os
import stat

import pytest

from neurofusion.io import all_or_nothing, atomic_output


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "table.parquet"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_atomic_output_publishes_with_umask_permissions(tmp_path):
    target = tmp_path / "a.txt"
    with atomic_output(target) as tmp:
        assert tmp.name.endswith(".txt") and tmp.parent == tmp_path
        tmp.write_text("done")
    assert target.read_text() == "done"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_all_or_nothing_removes_stale_outputs_on_failure(tmp_path):
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    a.write_text("old run")
    with pytest.raises(ValueError):
        with all_or_nothing(a, b) as (ta, tb):
            ta.write_text("new")
            raise ValueError("bad input")
    assert not a.exists() and not b.exists()
    assert list(tmp_path.iterdir()) == []
    with all_or_nothing(a, b) as (ta, tb):
        ta.write_text("1")
        tb.write_text("2")
    assert a.read_text() == "1" and b.read_text() == "2"
