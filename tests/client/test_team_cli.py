"""``mltrack users|keys|members`` on a database store (as its administrator)."""

from __future__ import annotations

import pytest

from jupyter_mltrack.cli import main
from jupyter_mltrack.core.store import Store


@pytest.fixture
def cli(store_dir, capsys):
    from jupyter_mltrack.client.tracking import reset

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--uri", str(store_dir), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    yield run
    reset()


def test_users_keys_and_members_from_the_shell(cli, store_dir):
    assert cli("users", "add", "alice", "--admin") == (0, "added user alice (admin)\n", "")
    assert cli("users", "add", "bob", "--email", "bob@example.com")[:2] == (0, "added user bob\n")
    code, out, err = cli("users", "add", "bob")
    assert (code, err) == (2, "mltrack: user 'bob' exists already\n")
    assert cli("users", "list")[1] == "alice  admin\nbob  bob@example.com\n"

    code, out, err = cli("keys", "create", "bob", "--name", "laptop", "--expires", "30")
    key = out.strip()
    assert code == 0 and key.startswith("mltk_") and "shown once" in err and "laptop" in err
    store = Store(store_dir)
    try:
        code, out, _ = cli("keys", "list", "bob")
        key_id = store.list_keys("bob")[0]["id"]
        assert out.startswith(f"{key_id}\tlaptop\tcreated ") and "\texpires " in out and out.endswith("never used\n")
        assert key.split("_", 2)[2] not in out
        assert store.verify_key(key).name == "bob"
        assert cli("keys", "revoke", str(key_id))[1] == f"revoked API key {key_id} of bob\n"
        assert store.verify_key(key) is None
        assert "\trevoked " in cli("keys", "list", "bob")[1]

        store.write_batch({"runs": [{"id": "r1", "project": "P"}]})
        assert cli("members", "add", "P", "alice", "owner")[1] == "alice is owner of P\n"
        assert cli("members", "add", "P", "bob", "viewer")[1] == "bob is viewer of P\n"
        assert cli("members", "list", "P")[1] == "alice\towner\nbob\tviewer\n"
        assert cli("members", "remove", "P", "bob")[1] == "removed bob from P\n"
        code, _, err = cli("members", "remove", "P", "alice")
        assert (code, err) == (2, "mltrack: alice is the last owner of project 'P': make another member the owner "
                                  "first\n")
        assert store.list_members("P") == [{"user": "alice", "role": "owner"}]
    finally:
        store.close()
