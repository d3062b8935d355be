"""The model service standalone: ``mltrack serve house@champion --workers 2`` in its own process, over real HTTP —
predictions from records, columns and rows, bad input answered 4xx naming the column or field, /health and /info,
and an alias move picked up by every worker while concurrent requests are all answered."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ._models import V1, V2, Standalone, register_house


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    store = str(folder / "store")
    register_house(store)
    s = Standalone(store, "house@champion", folder, workers=2, poll_interval=0.3).start()
    yield s, store
    s.stop()


def predict(s, body, **kw):
    return requests.post(s.url + "/predict", json=body, timeout=30, **kw)


def test_predict_records_columns_and_rows(service):
    s, _ = service
    r = predict(s, {"inputs": [{"sqft": 1, "rooms": 1}, {"rooms": 0, "sqft": 2.5, "extra": "ignored"}]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["model"], doc["version"]) == ("house", 1)
    assert doc["predictions"] == pytest.approx([V1(1, 1), V1(2.5, 0)])
    r = predict(s, {"inputs": {"rooms": [1, 0, 3], "sqft": [1, 2.5, 4]}})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][:2] == pytest.approx([V1(1, 1), V1(2.5, 0)])
    r = predict(s, {"inputs": [{"sqft": 1, "rooms": None}]})  # NaN: this model refuses it, naming the reason
    assert r.status_code == 400 and "NaN" in r.json()["error"]["message"]
    r = predict(s, {"inputs": [[1, 1], [2.5, 0]]})  # rows in the model's feature order (sqft, rooms)
    assert r.json()["predictions"] == pytest.approx([V1(1, 1), V1(2.5, 0)])


@pytest.mark.parametrize("body, status, field, words", [
    ({"inputs": [{"sqft": 1}]}, 400, "rooms", "missing column 'rooms'"),
    ({"inputs": [{"sqft": 1, "rooms": 1}, {"sqft": "big", "rooms": 2}]}, 400, "sqft", "expected a number, got 'big'"),
    ({"inputs": {"sqft": [1, 2], "rooms": [1]}}, 400, "rooms", "has 1 values"),
    ({"inputs": {"sqft": [1], "rooms": ["x"]}}, 400, "rooms", "expected a number"),
    ({"inputs": {"sqft": [1]}}, 400, "rooms", "missing column 'rooms'"),
    ({"inputs": [[1, 2, 3]]}, 400, "inputs[0]", "takes 2"),
    ({"inputs": []}, 400, "inputs", "must not be empty"),
    ({"inputs": "sqft=1"}, 400, "inputs", "records"),
    ({"rows": [{"sqft": 1, "rooms": 1}]}, 400, "inputs", '"inputs"'),
    ([1, 2], 400, "inputs", '"inputs"'),
    ({"inputs": [{"sqft": 1, "rooms": 1}, 5]}, 400, "inputs[1]", "must be a record"),
])
def test_bad_input_is_4xx_naming_the_field(service, body, status, field, words):
    s, _ = service
    r = predict(s, body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["field"] == field and words in err["message"], err


def test_not_json_and_too_large(service):
    s, _ = service
    r = requests.post(s.url + "/predict", data=b'{"inputs": [', timeout=30)
    assert r.status_code == 400 and r.json()["error"]["field"] == "body"
    assert "not JSON" in r.json()["error"]["message"]
    big = b'{"inputs": [' + b",".join([b'{"sqft": 1, "rooms": 1}'] * 500_000) + b"]}"  # > 10 MB
    r = requests.post(s.url + "/predict", data=big, timeout=60)
    assert r.status_code == 413 and r.json()["error"]["field"] == "body", r.text[:300]
    r = requests.get(s.url + "/predict", timeout=30)
    assert r.status_code == 405


def test_health_and_info(service):
    s, _ = service
    h = requests.get(s.url + "/health", timeout=30).json()
    assert h["status"] == "ok" and h["name"] == "house"
    info = requests.get(s.url + "/info", timeout=30).json()
    assert info["kind"] == "model" and info["project"] == "P"
    assert info["models"][0]["columns"] == ["sqft", "rooms"]
    assert info["spec"]["models"] == {"house@champion": 1.0}


def test_both_workers_answer(service):
    """--workers 2: two processes share the port. The second may still be starting when the service first answers
    (the machine busy with other tests), so ask until both have answered or 30 s have passed."""
    s, _ = service
    pids: set[int] = set()
    deadline = time.monotonic() + 30
    while len(pids) < 2 and time.monotonic() < deadline:
        pids |= {requests.get(s.url + "/health", timeout=30).json()["pid"] for _ in range(20)}
    assert len(pids) == 2, pids


def test_alias_move_swaps_the_version_without_dropping_requests(service):
    """Moving house@champion to version 2 while 8 threads predict: every request is answered 200, each by version
    1 or 2 with that version's prediction, and after the move both workers serve version 2."""
    s, store = service
    from jupyter_mltrack.core.store import Store

    stop = time.monotonic() + 120
    moved_at: list[float] = []
    seen: list[tuple[int, int, float]] = []

    def load():
        session = requests.Session()
        while time.monotonic() < stop:
            r = session.post(s.url + "/predict", json={"inputs": [{"sqft": 2, "rooms": 1}]}, timeout=30)
            doc = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            seen.append((r.status_code, doc.get("version", 0), (doc.get("predictions") or [None])[0]))
            if moved_at and time.monotonic() > moved_at[0] + 5:
                last = [v for _, v, _ in seen[-40:]]
                if all(v == 2 for v in last) and len(last) == 40:
                    return

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(load) for _ in range(8)]
        time.sleep(1.0)
        st = Store(store)
        st.write_batch({"aliases": [{"project": "P", "model": "house", "alias": "champion", "version": 2}]})
        st.close()
        moved_at.append(time.monotonic())
        for f in futures:
            f.result()
    assert seen and all(code == 200 for code, _, _ in seen), [x for x in seen if x[0] != 200][:5]
    for _, version, pred in seen:
        assert pred == pytest.approx(V1(2, 1) if version == 1 else V2(2, 1)), (version, pred)
    assert {v for _, v, _ in seen} == {1, 2}
    assert [v for _, v, _ in seen[-40:]] == [2] * 40
    pids = {}
    for _ in range(60):
        h = requests.get(s.url + "/health", timeout=30).json()
        pids[h["pid"]] = h["models"][0]["version"]
    assert set(pids.values()) == {2}, pids
    info = json.loads(requests.get(s.url + "/info", timeout=30).text)
    assert info["swaps"] >= 1
