import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neurofusion.embeddings.store import (
    METADATA_KEY,
    read_embeddings,
    read_shard_metadata,
    write_embedding_shard,
)
from neurofusion.errors import NeurofusionError


@pytest.fixture
def two_shards(tmp_path):
    """Two shards: 3 + 2 participants x 4 patches x 5 features, written in scrambled order."""
    rng = np.random.default_rng(0)
    patch_ids = np.array([3, 0, 2, 1])
    a_ids = ["sub-003", "sub-001", "sub-002"]
    b_ids = ["sub-005", "sub-004"]
    a = rng.normal(size=(3, 4, 5)).astype(np.float32)
    b = rng.normal(size=(2, 4, 5)).astype(np.float32)
    pa_ = tmp_path / "shard-000.parquet"
    pb = tmp_path / "shard-001.parquet"
    write_embedding_shard(pa_, a_ids, patch_ids, a, encoder="intensity", checkpoint_sha256=None)
    write_embedding_shard(pb, b_ids, patch_ids, b, encoder="intensity", checkpoint_sha256=None)
    truth = {}
    for ids, vals in ((a_ids, a), (b_ids, b)):
        for i, s in enumerate(ids):
            truth[s] = vals[i][np.argsort(patch_ids)]  # [P, E] in ascending patch order
    return [pa_, pb], truth


def test_shard_schema_and_metadata(two_shards):
    (path, _), _ = two_shards
    table = pq.read_table(path)
    assert table.schema.field("participant_id").type == pa.string()
    assert table.schema.field("patch_id").type == pa.int32()
    emb = table.schema.field("embedding").type
    assert pa.types.is_fixed_size_list(emb) and emb.list_size == 5 and emb.value_type == pa.float32()
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    assert meta == {"encoder": "intensity", "width": 5, "checkpoint_sha256": None, "dtype": "float32"}
    assert read_shard_metadata(path) == meta
    df = table.select(["participant_id", "patch_id"]).to_pandas()
    assert list(df.participant_id) == [s for s in ("sub-001", "sub-002", "sub-003") for _ in range(4)]
    assert df.equals(df.sort_values(["participant_id", "patch_id"]).reset_index(drop=True))
    assert list(df.patch_id[:4]) == [0, 1, 2, 3]


def test_read_all_and_subset(two_shards):
    paths, truth = two_shards
    es = read_embeddings(paths)
    assert es.participant_ids == ["sub-001", "sub-002", "sub-003", "sub-004", "sub-005"]
    assert es.patch_ids.tolist() == [0, 1, 2, 3]
    assert es.values.shape == (5, 4, 5) and es.values.dtype == np.float32
    for i, s in enumerate(es.participant_ids):
        np.testing.assert_array_equal(es.values[i], truth[s])
    assert es.metadata["encoder"] == "intensity" and es.metadata["width"] == 5

    sub = read_embeddings(paths, participant_ids=["sub-005", "sub-001"])
    assert sub.participant_ids == ["sub-005", "sub-001"]
    np.testing.assert_array_equal(sub.values[0], truth["sub-005"])
    np.testing.assert_array_equal(sub.values[1], truth["sub-001"])


def test_float16_shard_reads_as_float32(tmp_path):
    vals = np.linspace(-2, 2, 2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    path = tmp_path / "shard-000.parquet"
    write_embedding_shard(path, ["sub-b", "sub-a"], np.arange(3), vals, encoder="builtin",
                          checkpoint_sha256="ab" * 32, dtype="float16")
    assert pq.read_schema(path).field("embedding").type.value_type == pa.float16()
    es = read_embeddings(path)
    assert es.values.dtype == np.float32 and es.metadata["dtype"] == "float16"
    np.testing.assert_array_equal(es.values[0], vals[1].astype(np.float16).astype(np.float32))


def test_unknown_participant_is_a_clear_error(two_shards):
    paths, _ = two_shards
    with pytest.raises(NeurofusionError, match="sub-999"):
        read_embeddings(paths, participant_ids=["sub-001", "sub-999"])


def test_shards_from_different_encoders_refused(tmp_path, two_shards):
    paths, _ = two_shards
    other = tmp_path / "shard-002.parquet"
    write_embedding_shard(other, ["sub-009"], np.arange(4), np.zeros((1, 4, 5)), encoder="builtin",
                          checkpoint_sha256="cd" * 32)
    with pytest.raises(NeurofusionError, match="shard-002.parquet"):
        read_embeddings(paths + [other])


def test_duplicate_participant_refused(tmp_path, two_shards):
    paths, _ = two_shards
    dup = tmp_path / "shard-002.parquet"
    write_embedding_shard(dup, ["sub-001"], np.arange(4), np.zeros((1, 4, 5)), encoder="intensity",
                          checkpoint_sha256=None)
    with pytest.raises(NeurofusionError, match="sub-001"):
        read_embeddings(paths + [dup])


def test_missing_and_corrupt_shard_name_the_file(tmp_path):
    with pytest.raises(NeurofusionError, match="nope.parquet"):
        read_embeddings([tmp_path / "nope.parquet"])
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(NeurofusionError, match="bad.parquet"):
        read_embeddings([bad])


def test_rewrite_gives_identical_bytes(tmp_path):
    vals = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for p in (a, b):
        write_embedding_shard(p, ["sub-1", "sub-2"], np.arange(3), vals, encoder="x", checkpoint_sha256=None)
    assert a.read_bytes() == b.read_bytes()


def test_gather_into_a_memmap(two_shards, tmp_path):
    paths, truth = two_shards
    mm = np.lib.format.open_memmap(tmp_path / "all.npy", mode="w+", dtype=np.float32, shape=(5, 4, 5))
    es = read_embeddings(paths, out=mm)
    assert es.values is mm
    np.testing.assert_array_equal(np.load(tmp_path / "all.npy")[4], truth["sub-005"])
