"""Project ids are cached only after the transaction that saw them commits."""

import pytest

from jupyter_mltrack.core.errors import Conflict


def test_rolled_back_project_is_not_cached(store):
    store.write_batch({"runs": [{"id": "r0", "project": "Old"}], "params": [{"run_id": "r0", "key": "a", "value": 1}]})
    with pytest.raises(Conflict):
        # creates project "New" and then fails: the whole batch, the project included, is rolled back
        store.write_batch({"runs": [{"id": "r1", "project": "New"}, {"id": "r2", "project": "New"}],
                           "params": [{"run_id": "r0", "key": "a", "value": 2}]})
    assert [p["name"] for p in store.list_projects()] == ["Old"]
    store.write_batch({"runs": [{"id": "r3", "project": "New"}]})
    assert store.get_run("r3")["project"] == "New"
    assert {p["name"]: p["run_count"] for p in store.list_projects()} == {"New": 1, "Old": 1}
