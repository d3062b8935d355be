"""client/series_buffer.py: a series' points in blocks, taken by the writer oldest first, in bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mltrack.client import series_buffer as SB
from jupyter_mltrack.client.series_buffer import SeriesBuffer


def _buffer(owner: int = 0) -> SeriesBuffer:
    buf = SeriesBuffer(("run", "m", "{}"), 0, thread=7)
    buf.owner = owner
    return buf


def _append(buf: SeriesBuffer, steps) -> None:
    for s in steps:
        buf.append(s, s * 0.5, 1000.0 + s)


def _taken(parts) -> tuple[list, list, list]:
    steps, times, values = parts
    return steps.tolist(), times.tolist(), values.tolist()


def test_blocks_grow_from_small_to_the_largest_and_points_come_out_in_order():
    buf = _buffer()
    assert buf.cap == SB.FIRST_BLOCK
    n = 3 * SB.MAX_BLOCK + 5
    _append(buf, range(n))
    caps = [s.cap for s in buf.full] + [buf.cap]
    assert caps[:4] == [16, 32, 64, 128] and max(caps) == SB.MAX_BLOCK == caps[-1]
    assert sum(s.n for s in buf.full) + buf.n == n == buf.pending()
    steps, times, values = _taken(buf.take(10 * n))
    assert steps == list(range(n))
    assert times == [1000.0 + s for s in range(n)] and values == [s * 0.5 for s in range(n)]
    assert buf.pending() == 0 and buf.full == [] and buf.held == 0
    # each block is three views of cap points: steps int64, times and values float64
    assert (len(buf.steps), len(buf.times), len(buf.values), buf.raw.nbytes) == (buf.cap,) * 3 + (24 * buf.cap,)
    assert (buf.steps.format, buf.times.format, buf.values.format) == ("q", "d", "d")


def test_a_budget_splits_sealed_and_current_blocks_and_the_rest_comes_next():
    buf = _buffer()
    _append(buf, range(100))  # blocks of 16, 32 and 64 points: two sealed, 52 in the current one
    assert [(s.cap, s.n) for s in buf.full] == [(16, 16), (32, 32)] and (buf.cap, buf.n) == (64, 52)
    got = []
    for budget in (10, 30, 25, 1, 1000):  # inside the first block, across into the second, into the current one...
        steps, _, _ = _taken(buf.take(budget))
        assert len(steps) == min(budget, 100 - len(got))
        got += steps
        assert buf.pending() == 100 - len(got)
    assert got == list(range(100))
    _append(buf, range(100, 110))  # written after a take: the current block goes on where it was
    assert _taken(buf.take(1000))[0] == list(range(100, 110))


def test_points_written_between_two_takes_are_taken_once():
    buf = _buffer()
    out = []
    for i in range(0, 5000, 7):
        _append(buf, range(i, min(i + 7, 5000)))
        if i % 3 == 0:
            out += _taken(buf.take(11))[0]
    out += _taken(buf.take(10**6))[0]
    assert out == list(range(5000))


def test_a_bulk_write_goes_after_the_points_written_before_it():
    buf = _buffer()
    _append(buf, range(5))
    buf.take(2)  # the current block half taken
    bulk = np.arange(100, 150, dtype=np.int64)
    buf.extend(bulk, bulk * 0.5, bulk + 1000.0)
    _append(buf, range(150, 153))
    assert buf.pending() == 3 + 50 + 3
    assert [(s.taken, s.n) for s in buf.full] == [(2, 5), (0, 50)]
    steps, times, values = _taken(buf.take(1000))
    assert steps == [2, 3, 4, *range(100, 153)]
    assert values == [s * 0.5 for s in steps] and times == [1000.0 + s for s in steps]
    buf.extend(bulk[:1], bulk[:1] * 0.5, bulk[:1] + 1000.0)  # after a block all taken: no empty block before it
    assert [(s.taken, s.n) for s in buf.full] == [(0, 1)]


def test_a_step_past_64_bits_writes_nothing():
    buf = _buffer()
    _append(buf, [1])
    with pytest.raises(ValueError):
        buf.append(2**63, 1.0, 1.0)
    _append(buf, [2])
    assert _taken(buf.take(10)) == ([1, 2], [1001.0, 1002.0], [0.5, 1.0])


def test_only_a_buffer_no_thread_writes_without_the_lock_drops_its_block_and_only_when_all_is_taken():
    owned = _buffer(owner=7)
    _append(owned, range(3))
    owned.take(10)
    owned.release()
    assert owned.cap == SB.FIRST_BLOCK  # its thread may be writing into it right now: kept

    locked = _buffer(owner=0)
    _append(locked, range(40))
    locked.take(39)
    locked.release()
    assert locked.cap == 32 and locked.pending() == 1  # a point not yet taken: kept
    assert _taken(locked.take(10))[0] == [39]
    locked.release()
    assert locked.cap == 0 and locked.full == []
    _append(locked, range(40, 42))  # written again: a new small block
    assert locked.cap == SB.FIRST_BLOCK and _taken(locked.take(10))[0] == [40, 41]


def test_a_long_series_keeps_one_block_once_it_is_stored(tracking, store):
    from jupyter_mltrack.client.tracking import get_client

    run = tracking.start_run("long", capture_environment=False)
    for i in range(20_000):
        run.log_metric("m", float(i))
    tracking.flush()
    buf = get_client().writer._bufs[(run.id, "m", "{}")]
    assert buf.pending() == 0 and buf.full == [] and buf.cap == SB.MAX_BLOCK  # 48 KiB, not the 20,000 points
    run.end()
    tracking.flush()
    assert store.get_series(run.id, "m")["points"].values.tolist() == [float(i) for i in range(20_000)]
