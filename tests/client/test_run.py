"""client/run.py: the public tracking API on a real local store (its writer thread included)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from jupyter_mltrack.core.errors import Conflict, InvalidInput, NotFound

from ._helpers import blob_files
from jupyter_mltrack.client.tracking import get_client


def stored(store, run):
    """What the store holds for a run, after the writer stored everything."""
    run.flush()
    return store.get_run(run.id)


def points(store, run, name, context=None):
    run.flush()
    return store.get_series(run.id, name, context)["points"]


# ------------------------------------------------------------------------------------------------------------------
# lifecycle


def test_context_manager_finishes_the_run(tracking, store):
    with tracking.start_run("fit", project="P", experiment="E", description="d") as run:
        assert run.is_active and run.status == "running" and tracking.active_run() is run
        assert "fit" in repr(run) and run.id in repr(run)
    assert not run.is_active and run.status == "finished" and tracking.active_run() is None
    info = stored(store, run)
    assert (info["name"], info["project"], info["experiments"], info["description"]) == ("fit", "P", ["E"], "d")
    assert info["status"] == "finished" and info["end_time"] >= info["start_time"] and info["error"] is None


def test_exception_fails_the_run_with_the_traceback(tracking, store):
    with pytest.raises(ValueError, match="boom"):
        with tracking.start_run("bad") as run:
            raise ValueError("boom")
    info = stored(store, run)
    assert info["status"] == "failed"
    assert "Traceback" in info["error"] and "ValueError: boom" in info["error"]
    assert run.status == "failed"


def test_keyboard_interrupt_kills_the_run(tracking, store):
    with pytest.raises(KeyboardInterrupt):
        with tracking.start_run() as run:
            raise KeyboardInterrupt
    info = stored(store, run)
    assert info["status"] == "killed" and "KeyboardInterrupt" in info["error"]


def test_end_is_idempotent_and_checks_the_status(tracking, store):
    run = tracking.start_run()
    with pytest.raises(InvalidInput, match="status must be"):
        run.end("done")
    run.end("killed")
    run.end("finished")  # already ended: no-op
    assert stored(store, run)["status"] == "killed"
    with pytest.raises(InvalidInput, match="has ended \\(killed\\)"):
        run.log_metric("m", 1.0)
    with pytest.raises(InvalidInput, match="has ended"):
        run.log_param("p", 1)


def test_nested_runs(tracking, store):
    with tracking.start_run("outer", project="P") as outer:
        inner = tracking.start_run("inner")
        assert inner.parent_id == outer.id and inner.project == "P"  # the project is inherited
        assert tracking.active_run() is inner
        other = tracking.start_run("top", parent=False)
        assert other.parent_id is None and other.project == "Default"
        other.end()
        assert tracking.active_run() is inner
    # ending the parent ended its open child
    assert not inner.is_active and inner.status == "finished" and tracking.active_run() is None
    assert stored(store, outer)["children"] == [inner.id]
    assert store.get_run(inner.id)["parent_id"] == outer.id
    assert store.get_run(inner.id)["status"] == "finished"


def test_failure_of_the_parent_fails_its_open_children(tracking, store):
    with pytest.raises(RuntimeError):
        with tracking.start_run("outer") as outer:
            child = tracking.start_run("child")
            done = tracking.start_run("done", parent=outer)
            done.end()
            raise RuntimeError("x")
    tracking.flush()
    assert store.get_run(child.id)["status"] == "failed"
    assert store.get_run(done.id)["status"] == "finished"
    assert store.get_run(outer.id)["status"] == "failed"


def test_explicit_parent_by_id(tracking, store):
    with tracking.start_run("a") as a:
        pass
    with tracking.start_run("b", parent=a.id) as b:
        pass
    assert stored(store, b)["parent_id"] == a.id


def test_project_from_environment(tracking, store, monkeypatch):
    monkeypatch.setenv("MLTRACK_PROJECT", "FromEnv")
    with tracking.start_run() as run:
        pass
    assert stored(store, run)["project"] == "FromEnv"


def test_start_run_validates_before_creating_anything(tracking, store):
    for kw in ({"project": ""}, {"experiment": ["ok", ""]}, {"params": {"bad": object()}},
               {"params": {"": 1}}, {"tags": {"t": None}}, {"name": 5}, {"params": [("a", 1)]}):
        with pytest.raises(InvalidInput):
            tracking.start_run(**kw)
    assert tracking.active_run() is None
    tracking.flush()
    assert store.search_runs()[1] == 0


def test_start_run_validates_campaign_names(tracking):
    with pytest.raises(InvalidInput, match="campaign"):
        tracking.start_run(campaign="")


def test_campaigns_and_several_experiments(tracking, store):
    with tracking.start_run(experiment=["e2", "e1"], campaign=["c1", "c2"]) as run:
        pass
    info = stored(store, run)
    assert info["experiments"] == ["e1", "e2"] and sorted(info["campaigns"]) == ["c1", "c2"]


# ------------------------------------------------------------------------------------------------------------------
# the fluent API


def test_fluent_functions_act_on_the_active_run(tracking, store, tmp_path):
    f = tmp_path / "out.txt"
    f.write_text("result")
    run = tracking.start_run("fluent")
    tracking.log_param("lr", 0.1)
    tracking.log_params({"opt": "adam", "layers": [64, 32]})
    tracking.log_metric("loss", 0.5)
    tracking.log_metrics({"acc": 0.9, "f1": 0.8}, step=3)
    tracking.set_tag("team", "a")
    tracking.set_tags({"stage": "dev"})
    tracking.log_artifact(f)
    tracking.end_run()
    assert tracking.active_run() is None
    info = stored(store, run)
    assert info["status"] == "finished"
    assert info["params"] == {"lr": 0.1, "opt": "adam", "layers": [64, 32]}
    assert {m["key"]: (m["last"], m["last_step"]) for m in info["metrics"]} == {
        "loss": (0.5, 0), "acc": (0.9, 3), "f1": (0.8, 3)}
    assert info["tags"] == {"team": "a", "stage": "dev"}
    assert [a["name"] for a in info["artifacts"] if a["name"] != "environment"] == ["out.txt"]


@pytest.mark.parametrize("call", [
    lambda R: R.log_param("a", 1), lambda R: R.log_params({"a": 1}), lambda R: R.log_metric("m", 1.0),
    lambda R: R.log_metrics({"m": 1.0}), lambda R: R.set_tag("t", "v"), lambda R: R.set_tags({"t": "v"}),
    lambda R: R.log_artifact("x"),
], ids=["log_param", "log_params", "log_metric", "log_metrics", "set_tag", "set_tags", "log_artifact"])
def test_fluent_functions_without_an_active_run(tracking, call):
    with pytest.raises(InvalidInput, match="no active run: start one with mlt.start_run()"):
        call(tracking)
    tracking.end_run()  # nothing to end: no error


def test_package_level_names_are_the_client_functions(tracking):
    import jupyter_mltrack as mlt

    assert mlt.start_run is tracking.start_run and mlt.log_metric is tracking.log_metric
    with mlt.start_run(capture_environment=False) as run:
        assert mlt.active_run() is run
    assert mlt.get_tracking_uri() == tracking.get_tracking_uri()


# ------------------------------------------------------------------------------------------------------------------
# params


def test_params_are_immutable_at_call_time(tracking, store):
    with tracking.start_run(params={"a": 1}) as run:
        run.log_param("a", 1)  # the same value: no-op
        with pytest.raises(Conflict, match="param 'a' of run .* is already 1; params are immutable"):
            run.log_param("a", 2)
        run.log_param("b", {"x": 1, "y": 2})
        run.log_param("b", {"y": 2, "x": 1})  # same value, another key order
        with pytest.raises(Conflict):
            run.log_param("b", {"x": 1})
        run.log_param("np", np.float32(0.5))
        run.log_param("arr", np.arange(3))
        with pytest.raises(InvalidInput, match="param 'obj'"):
            run.log_param("obj", object())
        with pytest.raises(InvalidInput, match="NaN"):
            run.log_param("nan", float("nan"))
        assert run.params == {"a": 1, "b": {"x": 1, "y": 2}, "np": 0.5, "arr": [0, 1, 2]}
    assert stored(store, run)["params"] == {"a": 1, "b": {"x": 1, "y": 2}, "np": 0.5, "arr": [0, 1, 2]}


def test_log_params_is_all_or_nothing(tracking, store):
    with tracking.start_run(params={"fixed": 1}) as run:
        with pytest.raises(InvalidInput, match="param 'bad'"):
            run.log_params({"good": 1, "bad": object()})
        with pytest.raises(Conflict, match="fixed"):
            run.log_params({"good": 1, "fixed": 2})
        with pytest.raises(InvalidInput, match="param name"):
            run.log_params({"good": 1, "": 2})
        with pytest.raises(InvalidInput, match="takes a dict"):
            run.log_params([("good", 1)])
        assert run.params == {"fixed": 1}
        run.log_params({"good": 1, "fixed": 1})
    assert stored(store, run)["params"] == {"fixed": 1, "good": 1}


# ------------------------------------------------------------------------------------------------------------------
# metrics


def test_steps_auto_increment_per_series(tracking, store):
    with tracking.start_run() as run:
        run.log_metric("a", 1.0)
        run.log_metric("a", 2.0)
        run.log_metric("b", 3.0)
        run.log_metric("a", 4.0, step=10)
        run.log_metric("a", 5.0)
        run.log_metric("a", 6.0, step=3)  # going back does not move the counter back
        run.log_metric("a", 7.0)
        run.log_metric("b", 8.0)
    a = points(store, run, "a")
    assert list(zip(a.steps.tolist(), a.values.tolist())) == [(0, 1.0), (1, 2.0), (3, 6.0), (10, 4.0), (11, 5.0),
                                                              (12, 7.0)]
    assert points(store, run, "b").steps.tolist() == [0, 1]
    assert {m["key"]: m["last"] for m in store.get_run(run.id)["metrics"]} == {"a": 7.0, "b": 8.0}


def test_contexts_make_separate_series(tracking, store):
    with tracking.start_run() as run:
        run.log_metric("acc", 0.1, context={"subset": "train"})
        run.log_metric("acc", 0.2, context={"subset": "train"})
        run.log_metric("acc", 0.3, context={"subset": "val"})
        run.log_metric("acc", 0.4)
        run.log_metric("acc", 0.5, context={"fold": 1, "subset": "val"})
        run.log_metric("acc", 0.6, context={"subset": "val", "fold": "1"})  # the same series
    info = stored(store, run)
    assert {m["key"]: (m["count"], m["last"], m["last_step"]) for m in info["metrics"]} == {
        "acc": (1, 0.4, 0), "acc[subset=train]": (2, 0.2, 1), "acc[subset=val]": (1, 0.3, 0),
        "acc[fold=1,subset=val]": (2, 0.6, 1)}
    assert run.metrics["acc[subset=train]"] == 0.2


def test_log_metrics(tracking, store):
    with tracking.start_run() as run:
        run.log_metrics({"a": 1, "b": np.float64(2.5)}, step=4, context={"subset": "val"})
        with pytest.raises(InvalidInput, match="metric 'c'"):
            run.log_metrics({"a": 9.0, "c": "high"})
        with pytest.raises(InvalidInput, match="metric 'c'"):
            run.log_metrics({"a": 9.0, "c": None})
        with pytest.raises(InvalidInput):
            run.log_metrics({"a": 9.0}, step=1.5)
        with pytest.raises(InvalidInput, match="takes a dict"):
            run.log_metrics([1, 2])
    info = stored(store, run)
    assert {m["key"]: (m["count"], m["last"], m["last_step"]) for m in info["metrics"]} == {
        "a[subset=val]": (1, 1.0, 4), "b[subset=val]": (1, 2.5, 4)}  # the refused calls logged nothing


@pytest.mark.parametrize("value", ["0.5", None, b"1", [1.0], {"v": 1}, object()])
def test_log_metric_refuses_non_numbers(tracking, value):
    with tracking.start_run() as run:
        with pytest.raises(InvalidInput, match="metric 'm': value .* is not a number"):
            run.log_metric("m", value)


@pytest.mark.parametrize("kw, message", [
    ({"name": ""}, "metric name"), ({"name": 3}, "metric name"), ({"step": 1.5}, "step 1.5"),
    ({"step": True}, "step True"), ({"step": "3"}, "step '3'"), ({"context": {"a b": "x"}}, "context key"),
    ({"context": "subset=val"}, "not a JSON object"), ({"context": {"k": "a,b"}}, "context value"),
])
def test_log_metric_validates_at_call_time(tracking, kw, message):
    with tracking.start_run() as run:
        args = {"name": "m", "value": 1.0, **kw}
        with pytest.raises(InvalidInput, match=message):
            run.log_metric(**args)


@pytest.mark.parametrize("kw", [{"context": {"subset": ["val"]}}, {"step": 2**63}, {"value": 10**400}],
                         ids=["unhashable-context", "step-beyond-int64", "int-beyond-float"])
def test_log_metric_bad_input_is_invalid_input(tracking, kw):
    with tracking.start_run() as run:
        with pytest.raises(InvalidInput):
            run.log_metric(**{"name": "m", "value": 1.0, **kw})


def test_numpy_and_bool_values(tracking, store):
    with tracking.start_run() as run:
        run.log_metric("m", np.float32(0.5))
        run.log_metric("m", np.int64(3))
        run.log_metric("m", True)
        run.log_metric("m", np.array(2.5))
        run.log_metric("m", 1, step=np.int64(10))
    p = points(store, run, "m")
    assert p.values.tolist() == [0.5, 3.0, 1.0, 2.5, 1.0] and p.steps.tolist() == [0, 1, 2, 3, 10]


def test_non_finite_values_round_trip(tracking, store):
    payload = np.array([0x7FF8_0000_0000_0042], dtype=np.uint64).view(np.float64)
    with tracking.start_run() as run:
        for v in (math.nan, math.inf, -math.inf, -0.0, 1.5):
            run.log_metric("m", v)
        run.log_metric_series("bulk", np.concatenate([payload, [np.inf, -np.inf, np.nan]]))
        run.log_metric("last_nan", 1.0)
        run.log_metric("last_nan", math.nan)
        run.log_metric("pinf", math.inf)
        run.log_metric("ninf", -math.inf)
    p = points(store, run, "m")
    want = np.array([math.nan, math.inf, -math.inf, -0.0, 1.5])
    assert p.values.view(np.uint64).tolist() == want.view(np.uint64).tolist()
    bulk = store.get_series(run.id, "bulk")["points"].values
    assert bulk[:1].view(np.uint64).tolist() == payload.view(np.uint64).tolist()  # a NaN's payload survives
    hist = run.metric_history("m")
    assert hist["value"].to_numpy().view(np.uint64).tolist() == want.view(np.uint64).tolist()
    m = run.metrics
    assert m["m"] == 1.5 and math.isnan(m["last_nan"])
    df = tracking.search_runs()
    row = df.iloc[0]
    assert math.isnan(row["metrics.last_nan"]) and row["metrics.bulk"] != row["metrics.bulk"]
    assert (row["metrics.pinf"], row["metrics.ninf"], row["metrics.m"]) == (math.inf, -math.inf, 1.5)
    assert df["metrics.pinf"].dtype == np.float64
    info = store.get_run(run.id)
    s = {x["key"]: x for x in info["metrics"]}["m"]
    assert (s["min"], s["max"]) == (-math.inf, math.inf)


def test_log_metric_series(tracking, store):
    with tracking.start_run() as run:
        run.log_metric("loss", 9.0)
        run.log_metric("loss", 8.0)
        run.log_metric_series("loss", np.arange(10_000) * 0.5)  # continues at step 2
        run.log_metric("loss", -1.0)  # and the counter follows the bulk append
        run.log_metric_series("acc", [0.1, 0.2, 0.3], steps=[10, 20, 30], timestamps=[1.0, 2.0, 3.0],
                              context={"subset": "val"})
        run.log_metric_series("acc", np.array([0.4]), steps=np.array([40.0]), context={"subset": "val"})
        with pytest.raises(InvalidInput, match="same length"):
            run.log_metric_series("x", [1.0, 2.0], steps=[1])
        with pytest.raises(InvalidInput, match="same length"):
            run.log_metric_series("x", [1.0, 2.0], timestamps=[1.0])
        with pytest.raises(InvalidInput, match="values must be numbers"):
            run.log_metric_series("x", ["a", "b"])
        with pytest.raises(InvalidInput, match="steps must be integers"):
            run.log_metric_series("x", [1.0], steps=[0.5])
        with pytest.raises(InvalidInput, match="metric name"):
            run.log_metric_series("", [1.0])
    loss = points(store, run, "loss")
    assert len(loss) == 10_003
    assert loss.steps.tolist() == list(range(10_003))
    assert loss.values[:2].tolist() == [9.0, 8.0] and loss.values[-1] == -1.0
    np.testing.assert_array_equal(loss.values[2:-1], np.arange(10_000) * 0.5)
    acc = store.get_series(run.id, "acc", {"subset": "val"})["points"]
    assert acc.steps.tolist() == [10, 20, 30, 40] and acc.timestamps[:3].tolist() == [1.0, 2.0, 3.0]
    assert "x" not in {m["name"] for m in store.get_run(run.id)["metrics"]}


def test_metric_history(tracking):
    with tracking.start_run() as run:
        run.log_metric("m", 3.0, step=5)
        run.log_metric("m", 1.0, step=1)
        run.log_metric_series("big", np.sin(np.arange(5000) / 100.0))
        h = run.metric_history("m")  # a live run flushes first
    assert h["value"].tolist() == [1.0, 3.0]
    run.flush()
    h = run.metric_history("m")
    assert list(h.columns) == ["step", "timestamp", "value"]
    assert h["step"].tolist() == [1, 5] and h["value"].tolist() == [1.0, 3.0]  # sorted by step
    assert h["step"].dtype == np.int64 and h["value"].dtype == np.float64
    assert isinstance(h["timestamp"].dtype, pd.DatetimeTZDtype) and str(h["timestamp"].dt.tz) == "UTC"
    assert abs(h["timestamp"].iloc[0] - pd.Timestamp.now(tz="UTC")) < pd.Timedelta(minutes=5)
    small = run.metric_history("big", max_points=100)
    assert 3 <= len(small) <= 100
    with pytest.raises(NotFound):
        run.metric_history("nope")


def test_metric_history_right_after_the_run_ended(tracking):
    get_client().writer.interval = 60  # no periodic flush can hide the problem
    with tracking.start_run(capture_environment=False) as run:
        run.log_metric("m", 1.0)
        run.log_metric("m", 2.0)
    assert run.metric_history("m")["value"].tolist() == [1.0, 2.0]


# ------------------------------------------------------------------------------------------------------------------
# tags


def test_tags(tracking, store):
    with tracking.start_run(tags={"stage": "dev", "n": 1}) as run:
        run.set_tag("stage", "prod")
        run.set_tag("obj", {"a": 1})
        run.set_tags({"x": "1", "y": "2"})
        run.delete_tag("y")
        run.delete_tag("never-set")
        with pytest.raises(InvalidInput, match="use delete_tag"):
            run.set_tag("t", None)
        with pytest.raises(InvalidInput, match="tag name"):
            run.set_tags({"ok": "1", "": "2"})
        with pytest.raises(InvalidInput, match="the limit is 5000"):
            run.set_tag("long", "x" * 5001)
        assert run.tags == {"stage": "prod", "n": "1", "obj": '{"a": 1}', "x": "1"}
    assert stored(store, run)["tags"] == {"stage": "prod", "n": "1", "obj": '{"a": 1}', "x": "1"}


# ------------------------------------------------------------------------------------------------------------------
# artifacts and lineage


def test_log_artifact_file_and_folder_with_dedup(tracking, store, store_dir, tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"\x00weights" * 100)
    folder = tmp_path / "report"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("same bytes")
    (folder / "sub" / "b.txt").write_text("same bytes")
    (folder / "c.json").write_text('{"k": 1}')
    with tracking.start_run(capture_environment=False) as run:
        run.log_artifact(f, type="model", metadata={"framework": "none"})
        run.log_artifact(f)  # the same bytes again: a new version, no new blob
        run.log_artifact(folder, name="report")
        run.log_artifact(folder, name="report-copy")
        with pytest.raises(InvalidInput, match="does not exist"):
            run.log_artifact(tmp_path / "missing.bin")
    arts = stored(store, run)["artifacts"]
    assert [(a["name"], a["version"]) for a in arts] == [("model.bin", 1), ("model.bin", 2), ("report", 1),
                                                         ("report-copy", 1)]
    assert arts[0]["type"] == "model" and arts[0]["metadata"] == {"framework": "none"}
    assert arts[0]["files"][0]["sha256"] == arts[1]["files"][0]["sha256"]
    assert [(x["path"], x["media_type"]) for x in arts[2]["files"]] == [
        ("a.txt", "text/plain"), ("c.json", "application/json"), ("sub/b.txt", "text/plain")]
    assert len(blob_files(store_dir)) == 3  # model.bin, "same bytes", c.json — each stored once
    assert run.read_artifact("model.bin") == b"\x00weights" * 100
    assert run.read_artifact("report", path="sub/b.txt") == b"same bytes"
    with pytest.raises(InvalidInput, match="has 3 files; name one with path="):
        run.read_artifact("report")
    with pytest.raises(NotFound):
        run.read_artifact("report", path="nope.txt")
    with pytest.raises(NotFound):
        run.read_artifact("nothing")


def test_log_text_and_log_dict(tracking, store_dir):
    with tracking.start_run(capture_environment=False) as run:
        run.log_text("first", name="notes.md")
        run.log_text("second", name="notes.md")
        run.log_text("ünïcode", name="u", path="u.txt")
        run.log_dict({"b": [1, 2], "a": {"c": None}}, name="config")
        run.log_dict({"x": 1}, name="already.json")
    arts = run.artifacts
    assert [(a["name"], a["version"], a["type"]) for a in arts] == [
        ("already.json", 1, "json"), ("config", 1, "json"), ("notes.md", 1, "text"), ("notes.md", 2, "text"),
        ("u", 1, "text")]
    assert run.read_artifact("notes.md") == b"second"
    assert run.read_artifact("notes.md", version=1) == b"first"
    assert run.read_artifact("u").decode() == "ünïcode"
    assert json.loads(run.read_artifact("config", path="config.json")) == {"b": [1, 2], "a": {"c": None}}
    assert [f["path"] for a in arts if a["name"] == "already.json" for f in a["files"]] == ["already.json"]


def test_log_input_records_lineage(tracking, store):
    with tracking.start_run("prep", capture_environment=False) as prep:
        prep.log_text("rows", name="dataset", type="data")
    art = prep.artifacts[0]
    with tracking.start_run("train", capture_environment=False) as train:
        train.log_input(art)
        train.log_input(art["id"], role="validation")  # the same artifact again: one link
    inputs = stored(store, train)["inputs"]
    assert inputs == [{"artifact_id": art["id"], "run_id": prep.id, "name": "dataset", "type": "data",
                       "version": 1, "role": "input"}]


# ------------------------------------------------------------------------------------------------------------------
# reading


def test_search_runs_dataframe(tracking):
    with tracking.start_run("a", project="P", experiment="E", params={"lr": 0.1, "opt": "adam"},
                            tags={"team": "x"}, capture_environment=False) as a:
        a.log_metric("acc", 0.5, context={"subset": "val"})
        a.log_metric("acc", 0.7)
    with tracking.start_run("b", project="P", params={"lr": 0.2}, capture_environment=False) as b:
        b.log_metric("acc", 0.9)
    with tracking.start_run("c", project="Q", capture_environment=False):
        pass
    df = tracking.search_runs(project="P")
    assert list(df.columns) == [
        "run_id", "name", "status", "start_time", "end_time", "duration", "project", "experiments", "user",
        "parent_id", "source", "params.lr", "params.opt", "metrics.acc", "metrics.acc[subset=val]", "tags.team"]
    assert df["run_id"].tolist() == [b.id, a.id]  # newest first
    assert df["status"].tolist() == ["finished", "finished"]
    assert str(df["start_time"].dt.tz) == "UTC" and (df["duration"] >= 0).all()
    row = df.set_index("name").loc["a"]
    assert (row["params.lr"], row["params.opt"], row["metrics.acc"], row["metrics.acc[subset=val]"],
            row["tags.team"]) == (0.1, "adam", 0.7, 0.5, "x")
    assert row["experiments"] == ["E"]
    assert df["metrics.acc"].dtype == np.float64
    assert math.isnan(df.set_index("name").loc["b", "metrics.acc[subset=val]"])

    df = tracking.search_runs(filter="metrics.acc > 0.6", order_by="metrics.acc desc")
    assert df["name"].tolist() == ["b", "a"]
    df = tracking.search_runs(filter="params.opt = 'adam'")
    assert df["name"].tolist() == ["a"]
    df = tracking.search_runs(order_by="name", max_results=2)
    assert df["name"].tolist() == ["a", "b"]
    df = tracking.search_runs(experiment="E")
    assert df["name"].tolist() == ["a"]
    with pytest.raises(InvalidInput):
        tracking.search_runs(filter="metrics.acc >")


def test_search_runs_on_an_empty_store(tracking):
    df = tracking.search_runs()
    assert len(df) == 0 and list(df.columns)[:3] == ["run_id", "name", "status"]


def test_search_runs_sees_what_was_just_logged(tracking):
    run = tracking.start_run(capture_environment=False)
    run.log_metric("live", 1.0)
    df = tracking.search_runs()  # flushes first
    assert df["metrics.live"].tolist() == [1.0] and df["status"].tolist() == ["running"]
    run.end()


def test_get_run_read_view(tracking, tmp_path):
    with tracking.start_run("r", params={"p": 1}, tags={"t": "v"}, capture_environment=False) as run:
        run.log_metric("m", 2.0)
        run.log_text("x", name="note")
        assert tracking.get_run(run.id) is run  # the live object while it is active
    view = tracking.get_run(run.id)
    assert view is not run and view == run and hash(view) == hash(run)
    assert (view.name, view.project, view.status) == ("r", "Default", "finished")
    assert view.params == {"p": 1} and view.tags == {"t": "v"} and view.metrics == {"m": 2.0}
    assert [a["name"] for a in view.artifacts] == ["note"] and view.read_artifact("note") == b"x"
    assert view.info["id"] == run.id and not view.is_active
    with pytest.raises(InvalidInput, match="opened for reading"):
        view.log_metric("m", 1.0)
    with pytest.raises(InvalidInput, match="opened for reading"):
        view.set_tag("a", "b")
    with pytest.raises(NotFound):
        tracking.get_run("doesnotexist")


def test_list_projects_and_experiments(tracking):
    with tracking.start_run(project="P", experiment="E", capture_environment=False):
        pass
    tracking.flush()
    projects = tracking.list_projects()
    assert "P" in list(projects["name"])
    assert "E" in list(tracking.list_experiments("P")["name"])


def test_new_run_ids_are_short_and_unique():
    from jupyter_mltrack.client.run import new_run_id

    ids = {new_run_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 12 and i.isalnum() and i == i.lower() for i in ids)


def test_tracking_uri(tracking, store_dir):
    assert tracking.get_tracking_uri() == str(store_dir / "mltrack.db")


# ------------------------------------------------------------------------------------------------------------------
# environment capture


def _environment(run):
    arts = [a for a in run.artifacts if a["name"] == "environment"]
    assert len(arts) == 1, run.artifacts
    env = json.loads(run.read_artifact("environment", path="environment.json"))
    return arts[0], env


def test_top_level_runs_capture_the_environment(tracking):
    with tracking.start_run("top") as top:
        child = tracking.start_run("child")
        child.end()
    art, env = _environment(top)
    assert art["type"] == "environment"
    assert env["python"]["version"].count(".") == 2
    assert "numpy" in {k.lower() for k in env["packages"]["packages"]}
    assert {"platform", "host", "hardware"} <= set(env)
    assert "errors" not in env and art["metadata"] == {}
    assert [a["name"] for a in child.artifacts] == []  # child runs do not repeat it
    with tracking.start_run(capture_environment=False) as quiet:
        pass
    assert quiet.artifacts == []
    with tracking.start_run(parent=top, capture_environment=True) as forced:
        pass
    _environment(forced)


def test_a_failing_gatherer_is_reported_without_breaking_the_run(tracking, gatherers):
    def broken():
        raise RuntimeError("no GPU here")

    gatherers.register_gatherer("broken", broken)
    gatherers.register_gatherer("extra", lambda: {"answer": 42})
    with tracking.start_run("r") as run:
        run.log_metric("m", 1.0)
    assert run.status == "finished"
    art, env = _environment(run)
    assert art["metadata"]["errors"] == {"broken": "RuntimeError: no GPU here"}
    assert env["errors"] == {"broken": "RuntimeError: no GPU here"}
    assert env["extra"] == {"answer": 42}
    assert run.metrics == {"m": 1.0}


def test_a_slow_gatherer_times_out_per_gatherer_timeout(tracking, gatherers, monkeypatch):
    import threading

    release = threading.Event()

    def slow():
        release.wait(1.5)
        return {"late": True}

    gatherers.register_gatherer("slow", slow)
    monkeypatch.setattr(gatherers, "GATHERER_TIMEOUT", 0.2)
    try:
        with tracking.start_run("r") as run:
            pass
        art, env = _environment(run)
        assert run.status == "finished"
        assert "timed out" in art["metadata"]["errors"]["slow"]
        assert "slow" not in env  # what it returns later is not stored
    finally:
        release.set()


def test_the_dataframe_from_arrays_equals_the_one_from_dicts(tracking):
    mlt = tracking
    """mlt.search_runs builds numeric columns from stored arrays (Store.run_frame); the frame must equal the one
    built from the run table's dicts, whatever the mix of types across runs."""
    import pandas as pd

    from jupyter_mltrack.client.frames import runs_dataframe

    store = get_client().backend.store
    runs = [
        {"n": 3, "lr": 0.1, "opt": "adam", "flag": True, "mixed": 1, "big": 2**70, "cfg": {"a": [1, 2]}, "sometimes": 5},
        {"n": 4, "lr": 1, "opt": "sgd", "flag": False, "mixed": "x", "big": 2**70, "cfg": {"a": []}},
        {"n": -7, "lr": 2.5e-9, "opt": "adam", "flag": True, "mixed": 2.5, "big": 1, "cfg": None, "only_here": 1},
    ]
    metrics = [{"acc": 0.5, "loss": math.nan}, {"acc": math.inf}, {"acc": -math.inf, "loss": 1.0, "f1": 0.25}]
    batch = {"runs": [], "params": [], "metrics": [], "tags": [], "updates": []}
    for i, (params, ms) in enumerate(zip(runs, metrics)):
        rid = f"df{i}"
        batch["runs"].append({"id": rid, "name": f"n{i}", "project": "frames", "start_time": 1000.0 + i})
        batch["params"] += [{"run_id": rid, "key": k, "value": v} for k, v in params.items()]
        batch["metrics"] += [{"run_id": rid, "name": k, "values": [0.0, v], "context": {"s": "v"} if k == "f1" else None}
                             for k, v in ms.items()]
        batch["tags"].append({"run_id": rid, "key": "who", "value": f"t{i}"})
        if i != 1:  # one run still running: its fragments are built by the reader
            batch["updates"].append({"run_id": rid, "status": "finished", "end_time": 2000.0})
    batch["runs"].append({"id": "empty", "project": "frames", "start_time": 999.0})
    store.write_batch(batch)
    for filt in (None, "params.opt = 'adam'", "id = 'nothing'"):
        got = mlt.search_runs(project="frames", filter=filt)
        want = runs_dataframe(store.run_table(project="frames", filter=filt))
        pd.testing.assert_frame_equal(got, want)
    df = mlt.search_runs(project="frames")
    assert str(df["params.n"].dtype) == "float64"  # the empty run has no n: missing → NaN, as pandas does
    one = mlt.search_runs(project="frames", filter="params.opt = 'sgd'")
    assert str(one["params.n"].dtype) == "int64" and one["params.n"].tolist() == [4]
    assert df.set_index("run_id").loc["df0", "params.mixed"] == 1
    assert df.set_index("run_id").loc["df1", "params.mixed"] == "x"
    assert df.set_index("run_id").loc["df1", "metrics.acc"] == math.inf
