"""Mistakes the client can see are raised in the cell that made them, before anything is stored."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mltrack.core.errors import InvalidInput

from jupyter_mltrack.client.tracking import get_client

from ._helpers import blob_files


@pytest.mark.parametrize("path", ["../../x.txt", "/etc/passwd", "a/../../b", "a//b", "."])
def test_a_bad_artifact_path_is_raised_in_the_cell_before_the_bytes_are_stored(tracking, store_dir, path):
    with tracking.start_run(capture_environment=False) as run:
        with pytest.raises(InvalidInput, match="path"):
            run.log_text("hello", name="notes", path=path)
        run.flush()  # nothing was refused later, at the flush
        assert not get_client().writer.unreported
    assert blob_files(store_dir) == []


def test_run_names_and_descriptions_are_bounded_when_the_run_starts(tracking, store):
    with pytest.raises(InvalidInput, match="run name is 251 characters"):
        tracking.start_run(name="n" * 251, capture_environment=False)
    with pytest.raises(InvalidInput, match="run description"):
        tracking.start_run(description="d" * 100_001, capture_environment=False)
    assert store.search_runs()[1] == 0


def test_artifact_metadata_is_checked_when_logged(tracking, store, tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"x")
    deep: dict = {}
    d = deep
    for _ in range(40):
        d["a"] = {}
        d = d["a"]
    with tracking.start_run(capture_environment=False) as run:
        with pytest.raises(InvalidInput, match="metadata nests more than 32"):
            run.log_artifact(f, metadata=deep)
        with pytest.raises(InvalidInput, match="metadata holds bytes"):
            run.log_artifact(f, metadata={"seed": b"\x00"})
        run.log_artifact(f, metadata={"seed": 2**70})
    tracking.flush()
    assert store.get_run(run.id)["artifacts"][0]["metadata"] == {"seed": 2**70}


def test_steps_and_timestamps_outside_int64_microseconds_are_raised(tracking, store):
    with tracking.start_run(capture_environment=False) as run:
        with pytest.raises(InvalidInput, match="64-bit"):
            run.log_metric("m", 1.0, step=10**30)
        with pytest.raises(InvalidInput, match="steps must be integers in the 64-bit range"):
            run.log_metric_series("m", [1.0], steps=[1e30])
        with pytest.raises(InvalidInput, match="timestamps must be finite"):
            run.log_metric_series("m", [1.0], timestamps=[float("nan")])
        with pytest.raises(InvalidInput, match="timestamps must be finite"):
            run.log_metric_series("m", [1.0], timestamps=[1e300])
        run.log_metric_series("m", np.array([1.0, 2.0]), steps=[2**62, 2**62 + 1])
    tracking.flush()
    pts = store.get_series(run.id, "m")["points"]
    assert pts.steps.tolist() == [2**62, 2**62 + 1]


def test_params_nested_beyond_32_levels_are_raised_and_big_integers_kept(tracking, store):
    deep: list = []
    for _ in range(40):
        deep = [deep]
    with tracking.start_run(capture_environment=False) as run:
        run.log_param("seed", 10**400)
        with pytest.raises(InvalidInput, match="param 'deep'.*32 levels"):
            run.log_param("deep", deep)
        run.log_param("ok", 2**63 - 1)
    tracking.flush()
    assert store.get_run(run.id)["params"] == {"ok": 2**63 - 1, "seed": 10**400}
