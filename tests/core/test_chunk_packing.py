"""Chunks packed many at once (core/series.py: encode_chunks, pack_chunks; core/db.py: RowsInsert): the same bytes,
overviews and rows as chunk by chunk, for pieces of mixed lengths, whatever the installed zstandard offers."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import zstandard

from jupyter_mltrack.core import series as SER
from jupyter_mltrack.core.series import CHUNK_POINTS, OVERVIEW_BUCKET, Points, decode_chunk

from .test_overviews import _check_selection
from .test_series import assert_same_points


def _shuffle_by_hand(a: np.ndarray) -> bytes:
    """The i-th byte of every little-endian 64-bit number together."""
    return np.ascontiguousarray(a.astype("<i8").view(np.uint8).reshape(-1, 8).T).tobytes()


def _chunk_by_hand(p: Points) -> bytes:
    """A chunk's bytes as the module's docstring describes them, written out one step at a time."""
    steps = np.asarray(p.steps, dtype=np.int64)
    micros = np.round(np.asarray(p.timestamps) * 1e6).astype(np.int64)
    ds = np.concatenate([steps[:1], np.diff(steps)])
    dt = np.concatenate([micros[:1], np.diff(micros)])
    raw = _shuffle_by_hand(ds) + _shuffle_by_hand(dt) + _shuffle_by_hand(np.asarray(p.values, "<f8").view("<i8"))
    return bytes([SER.CODEC_ZSTD_SHUFFLE]) + zstandard.ZstdCompressor(level=3).compress(raw)


def _pieces() -> list[Points]:
    """Pieces of mixed lengths, several of each length, with repeated and falling steps and non-finite values."""
    rng = np.random.default_rng(7)
    out = []
    for k, n in enumerate([1, 5, 5, CHUNK_POINTS, 1, CHUNK_POINTS, 100, CHUNK_POINTS, 5, 64, CHUNK_POINTS,
                           CHUNK_POINTS, CHUNK_POINTS - 1]):
        steps = np.cumsum(rng.integers(1, 4, n)) + 10 * k
        values = rng.normal(size=n) * 10 ** k
        if k == 5:
            steps[9] = steps[8]  # a repeated step: no overview
        if k == 7:
            values[[3, 4000]] = [np.nan, -np.inf]  # a few non-finite values: kept in the overview
        if k == 10:
            values[: 3 * OVERVIEW_BUCKET] = np.nan  # many: not all kept, a bucket of NaN keeps its first point
            values[5000:] = np.inf
        if k == 11:
            steps = steps[::-1].copy()  # falling steps: no overview
        out.append(Points(steps.astype(np.int64), 1.7e9 + rng.random(n) * 1e3, values))
    return out


def test_chunks_encoded_together_are_the_bytes_of_the_chunk_format():
    pieces = _pieces()
    got = SER.encode_chunks(pieces)
    assert got == [_chunk_by_hand(p) for p in pieces]
    assert [SER.encode_chunk(p) for p in pieces] == got
    for p, data in zip(pieces, got):
        assert_same_points(decode_chunk(data, len(p)), Points(p.steps, np.round(p.timestamps * 1e6) / 1e6, p.values))


def test_packed_chunks_carry_their_ranges_and_the_overviews_of_full_chunks_only():
    pieces = _pieces()
    packed = SER.pack_chunks(pieces, overview_len=CHUNK_POINTS)
    assert len(packed) == len(pieces)
    with_overview = 0
    for p, c in zip(pieces, packed):
        assert (c.count, c.step_min, c.step_max) == (len(p), int(p.steps.min()), int(p.steps.max()))
        assert c.data == _chunk_by_hand(p)
        ov = SER.overview(p) if len(p) == CHUNK_POINTS else None
        if ov is None:
            assert (c.overview, c.overview_count) == (None, None)
            continue
        with_overview += 1
        assert c.overview_count == len(ov) and c.overview == _chunk_by_hand(ov)
    assert with_overview == 3  # of the five full chunks: the repeated and the falling steps have none
    # another overview length: the 5-point pieces get one, the full chunks not
    other = SER.pack_chunks(pieces, overview_len=5)
    assert [c.overview is not None for c in other] == [len(p) == 5 for p in pieces]
    assert other[1].overview == _chunk_by_hand(SER.overview(pieces[1]))


def test_overviews_of_a_block_are_those_of_each_chunk():
    pieces = [p for p in _pieces() if len(p) == CHUNK_POINTS]
    steps = np.stack([p.steps for p in pieces])
    values = np.stack([p.values for p in pieces])
    got = SER._overview_positions(steps, values)
    assert [g is None for g in got] == [False, True, False, False, True]
    for p, g in zip(pieces, got):
        if g is not None:
            _check_selection(p.values, g)
            assert g.tolist() == SER.overview_indices(p).tolist()
    # the non-finite values: a few kept, many not
    assert {3, 4000} <= set(got[2].tolist())
    assert not set(range(5000, CHUNK_POINTS - 1)) <= set(got[3].tolist())


def test_without_one_call_for_all_the_compression_is_chunk_by_chunk(monkeypatch):
    class OneByOne:  # a zstandard backend without multi_compress_to_buffer (its cffi backend raises)
        def __init__(self):
            self.inner = zstandard.ZstdCompressor(level=3)
            self.calls = 0

        def compress(self, data):
            self.calls += 1
            return self.inner.compress(data)

        def multi_compress_to_buffer(self, data):
            raise NotImplementedError

    one = OneByOne()
    monkeypatch.setattr(SER._local, "ctx", (one, zstandard.ZstdDecompressor()))
    pieces = _pieces()
    assert SER.encode_chunks(pieces) == [_chunk_by_hand(p) for p in pieces]
    assert one.calls == len(pieces)


def _many_blocks() -> list[Points]:
    """Full chunks for several blocks, and a partial piece now and then: a write packed on two threads."""
    rng = np.random.default_rng(11)
    out = []
    for k in range(4 * SER.BLOCK_POINTS // CHUNK_POINTS + 3):
        n = CHUNK_POINTS if k % 7 else 1000 + k
        steps = np.arange(n, dtype=np.int64) + k * CHUNK_POINTS
        out.append(Points(steps, 1.7e9 + rng.random(n), rng.normal(size=n)))
    return out


def _both_threads_pack(monkeypatch, on_helper=None):
    """Spy on each block's compression: the names of the threads that did it. The caller's first block waits until
    the helper has taken one, so both threads surely take part; ``on_helper`` runs on the helper's blocks."""
    names: list[str] = []
    helper_started = threading.Event()
    real = SER._frames

    def spy(block):
        me = threading.current_thread().name
        names.append(me)
        if me == "mltrack-pack":
            helper_started.set()
            if on_helper:
                on_helper()
        elif names.count(me) == 1:
            assert helper_started.wait(10)
        return real(block)

    monkeypatch.setattr(SER, "_frames", spy)
    monkeypatch.setattr(SER, "PACK_THREADS", 2)
    return names


def test_a_large_write_is_packed_on_two_threads_into_the_same_chunks(monkeypatch):
    pieces = _many_blocks()
    names = _both_threads_pack(monkeypatch, on_helper=lambda: time.sleep(0.05))  # the caller runs out first
    packed = SER.pack_chunks(pieces)
    assert set(names) == {threading.current_thread().name, "mltrack-pack"}
    for p, c in zip(pieces, packed, strict=True):
        assert (c.count, c.step_min, c.step_max) == (len(p), int(p.steps.min()), int(p.steps.max()))
        assert c.data == _chunk_by_hand(p)
        ov = SER.overview(p) if len(p) == CHUNK_POINTS else None
        assert c.overview == (None if ov is None else _chunk_by_hand(ov))
        assert c.overview_count == (None if ov is None else len(ov))
    # one core: all on the caller's thread, the same chunks
    names.clear()
    monkeypatch.setattr(SER, "PACK_THREADS", 1)
    assert SER.pack_chunks(pieces) == packed
    assert set(names) == {threading.current_thread().name}
    # a write of less than two blocks: on the caller's thread too; of two blocks exactly, on both
    full = [(p, c) for p, c in zip(pieces, packed) if len(p) == CHUNK_POINTS]
    two = 2 * SER.BLOCK_POINTS // CHUNK_POINTS
    monkeypatch.setattr(SER, "PACK_THREADS", 2)
    for k, threads in ((two - 1, 1), (two, 2)):
        names.clear()
        assert SER.pack_chunks([p for p, _ in full[:k]]) == [c for _, c in full[:k]]
        assert len(set(names)) == threads


def test_an_error_packing_on_the_helper_thread_is_raised_on_the_callers(monkeypatch):
    def fail():
        raise MemoryError("no room for the block")

    _both_threads_pack(monkeypatch, on_helper=fail)
    with pytest.raises(MemoryError, match="no room for the block"):
        SER.pack_chunks(_many_blocks())
    assert not [t for t in threading.enumerate() if t.name == "mltrack-pack"]


def test_an_empty_piece_is_refused():
    with pytest.raises(ValueError) as e:
        SER.pack_chunks([Points.empty()])
    assert str(e.value) == "a chunk holds at least one point"


@pytest.mark.parametrize("n", [1, 2, 3, 63, 64, 65, 127, 130])
def test_rows_inserted_many_per_statement_are_all_there_in_order(n):
    import sqlalchemy as sa

    from jupyter_mltrack.core.db import RowsInsert

    meta = sa.MetaData()
    table = sa.Table("t", meta, sa.Column("k", sa.Integer, primary_key=True), sa.Column("v", sa.LargeBinary),
                     sa.Column("w", sa.Float, nullable=True))
    engine = sa.create_engine("sqlite://")
    meta.create_all(engine)
    rows = [{"k": i, "v": bytes([i % 256]) * (i % 5), "w": None if i % 3 else i / 2} for i in range(n)]
    ins = RowsInsert(table, ("k", "v", "w"))
    with engine.begin() as conn:
        ins.run(conn, rows)
        ins.run(conn, [])
    with engine.connect() as conn:
        got = [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.k))]
    assert got == rows
