"""imaging/batches.py: content-defined batches of scans, stable when the cohort changes."""

import random

import pytest

from neurofusion.imaging.batches import scan_batches

LABELS = [f"{i:04d}" for i in range(1, 301)]


def _changed(before: list[list[str]], after: list[list[str]]) -> list[list[str]]:
    """Batches of ``after`` that ``before`` does not have, scan for scan."""
    old = {tuple(b) for b in before}
    return [b for b in after if tuple(b) not in old]


def test_every_scan_in_one_batch_in_sorted_order():
    shuffled = random.Random(0).sample(LABELS, len(LABELS))
    batches = scan_batches(shuffled, 6)
    assert [s for b in batches for s in b] == LABELS
    assert max(map(len, batches)) <= 12
    assert 3 <= len(LABELS) / len(batches) <= 7  # about k on average (the 2k cap shortens some)
    assert scan_batches(shuffled, 1) == [[s] for s in LABELS]
    assert scan_batches([], 6) == []


def test_one_added_or_removed_scan_changes_only_its_own_batch():
    """The point of cutting where a label's hash says, not every k scans: Snakemake reruns a
    batch whose scans changed, so one new subject must not reshuffle the cohort."""
    rng = random.Random(1)
    before = scan_batches(LABELS, 6)
    for _ in range(50):
        new = f"{rng.randrange(1, 300):04d}x"  # sorts between two existing labels
        after = scan_batches(LABELS + [new], 6)
        changed = _changed(before, after)
        assert any(new in b for b in changed)
        # the new scan's batch, split in two at most; every other batch has the same scans
        assert len(changed) <= 2 and all(new in b or b[0] > new for b in changed), (new, changed)
        # a removed scan's batch: the same without it, or merged with the next (and cut at 2k)
        gone = LABELS[rng.randrange(len(LABELS))]
        changed = _changed(before, scan_batches([s for s in LABELS if s != gone], 6))
        assert len(changed) <= 2 and all(b[-1] > gone for b in changed), (gone, changed)
    # consecutive runs of k, for contrast, would move every batch after the new scan
    naive = [LABELS[i:i + 6] for i in range(0, len(LABELS), 6)]
    grown = sorted(LABELS + ["0001x"])
    naive_after = [grown[i:i + 6] for i in range(0, len(grown), 6)]
    assert len(_changed(naive, naive_after)) == len(naive_after)


@pytest.mark.parametrize("bad", [0, -2])
def test_scans_per_job_below_one_is_refused(bad):
    with pytest.raises(ValueError, match="at least 1"):
        scan_batches(LABELS, bad)


def test_duplicate_labels_are_refused():
    with pytest.raises(ValueError, match="unique"):
        scan_batches(["01", "02", "01"], 4)
