"""Team mode in the sidebar, in a real JupyterLab started with ``--MLTrackApp.access_control=True`` (the browser's
token requests act as the store user "alice"): the signed-in user in the header, API keys (created, shown once,
working, revoked), project members (added, re-roled, removed; the server's refusals shown; read-only for
non-owners), each run's user — and none of it on a single-user server."""

from __future__ import annotations

import time

import pytest
import requests

from .conftest import launch_lab, new_page, open_lab, open_sidebar, stop_lab, wait_until

pytestmark = pytest.mark.ui

TEAM_ARGS = ("--MLTrackApp.access_control=True", "--MLTrackApp.token_user=alice")


@pytest.fixture(scope="module")
def team_lab(tmp_path_factory):
    lab = launch_lab(tmp_path_factory.mktemp("team-lab"), TEAM_ARGS)
    yield lab
    stop_lab(lab)


@pytest.fixture
def team_page(browser, team_lab, request):
    with new_page(browser, team_lab, request.node.name, clipboard=True) as p:
        yield p


# -- helpers -----------------------------------------------------------------------------------------------------

def _rest(lab, method: str, path: str, headers: dict | None = None, **kw) -> requests.Response:
    """A request to mltrack/api/``path``, by default with the server's token (so as alice in team mode)."""
    h = {"Authorization": f"token {lab.token}"} if headers is None else headers
    return requests.request(method, lab.url + "mltrack/api/" + path, headers=h, timeout=10, **kw)


def _members(lab, project: str) -> dict[str, str]:
    r = _rest(lab, "GET", "members", params={"project": project})
    r.raise_for_status()
    return {m["user"]: m["role"] for m in r.json()["members"]}


def _wait(predicate, timeout=20.0, what="condition"):
    return wait_until(predicate, timeout, what, every=0.2)


def _open_sidebar(page, lab):
    open_lab(page, lab)
    open_sidebar(page)


def _user(store, name: str, admin: bool = False):
    store.add_user(name, admin=admin, exist_ok=True)
    return store.actor(name)


def _open_members(page, project: str):
    page.locator(f'.jp-mltrack-project[data-project-name="{project}"] .jp-mltrack-project-settings-button').click()
    settings = page.locator(f'.jp-mltrack-project-settings[data-project-name="{project}"]')
    settings.wait_for()
    return settings


def _pause_polling(page, paused: bool):
    """The panel polls the server only while the document is visible: pretend it is hidden (a tab in the
    background), so that what the page shows goes stale the way it does for a person who looked away."""
    page.evaluate("(p) => Object.defineProperty(document, 'hidden', {configurable: true, get: () => p})", paused)


# -- the signed-in user ------------------------------------------------------------------------------------------

def test_header_shows_the_signed_in_user(team_lab, team_page):
    page = team_page
    me = _rest(team_lab, "GET", "me").json()
    assert me == {"access_control": True, "user": "alice", "admin": False, "authenticated_by": "jupyter"}
    _open_sidebar(page, team_lab)
    user = page.locator(".jp-mltrack-header .jp-mltrack-user")
    user.wait_for()
    assert user.get_attribute("data-user") == "alice"
    assert user.inner_text().strip() == "alice"
    assert page.locator(".jp-mltrack-header .jp-mltrack-admin-badge").count() == 0
    assert page.locator(".jp-mltrack-header .jp-mltrack-keys-button").is_visible()


# -- API keys ----------------------------------------------------------------------------------------------------

def test_create_a_key_shown_once_that_works(team_lab, team_page):
    page = team_page
    _open_sidebar(page, team_lab)
    page.click(".jp-mltrack-keys-button")
    keys = page.locator(".jp-mltrack-team-page[data-page='keys']")
    keys.wait_for()
    page.fill(".jp-mltrack-key-label-input", "ci-key")
    page.fill(".jp-mltrack-key-days-input", "30")
    t0 = time.time()
    page.click(".jp-mltrack-create-key-button")

    shown = page.locator(".jp-mltrack-new-key")
    shown.wait_for()
    secret = shown.locator(".jp-mltrack-new-key-value").inner_text().strip()
    assert secret.startswith("mltk_") and len(secret) > 45
    assert "you will not see it again" in shown.inner_text().lower()
    copy = shown.locator(".jp-mltrack-copy-key")
    assert copy.is_visible()
    copy.click()
    shown.locator("text=copied").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret

    # the key works: it acts as alice
    r = _rest(team_lab, "GET", "me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"access_control": True, "user": "alice", "admin": False, "authenticated_by": "api_key"}

    # listed (without its secret) with what was asked, in the page and in the store
    key_id = int(shown.get_attribute("data-key-id"))
    stored = next(k for k in team_lab.store().list_keys("alice") if k["id"] == key_id)
    assert stored["label"] == "ci-key" and stored["revoked_at"] is None
    assert stored["expires_at"] == pytest.approx(t0 + 30 * 86400, abs=60)
    item = page.locator(f'.jp-mltrack-key[data-key-id="{key_id}"]')
    item.wait_for()
    assert item.get_attribute("data-state") == "active"
    assert "ci-key" in item.locator(".jp-mltrack-key-label").inner_text()
    assert "never" not in item.locator('[data-field="expires"]').inner_text()
    assert secret not in item.inner_text()

    # shown once: gone when dismissed, and not there when the page opens again
    page.click(".jp-mltrack-new-key-done")
    page.wait_for_selector(".jp-mltrack-new-key", state="detached")
    assert secret not in page.content()
    page.click(".jp-mltrack-back")
    page.click(".jp-mltrack-keys-button")
    page.locator(f'.jp-mltrack-key[data-key-id="{key_id}"]').wait_for()
    assert page.locator(".jp-mltrack-new-key").count() == 0
    assert secret not in page.content()


def test_revoke_a_key_after_confirming(team_lab, team_page):
    page = team_page
    r = _rest(team_lab, "POST", "keys", json={"label": "to-revoke"})
    assert r.status_code == 201, r.text
    key_id, secret = r.json()["id"], r.json()["key"]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert _rest(team_lab, "GET", "me", headers=bearer).status_code == 200

    _open_sidebar(page, team_lab)
    page.click(".jp-mltrack-keys-button")
    item = page.locator(f'.jp-mltrack-key[data-key-id="{key_id}"]')
    item.wait_for()
    assert item.get_attribute("data-state") == "active"

    # cancelling the confirmation revokes nothing
    item.locator(".jp-mltrack-revoke-key").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "to-revoke" in dialog.inner_text()
    dialog.locator(".jp-Dialog-button", has_text="Cancel").click()
    dialog.wait_for(state="detached")
    assert _rest(team_lab, "GET", "me", headers=bearer).status_code == 200

    item.locator(".jp-mltrack-revoke-key").click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept", has_text="Revoke").click()
    page.wait_for_selector(f'.jp-mltrack-key[data-key-id="{key_id}"][data-state="revoked"]')
    assert item.locator('[data-field="revoked"]').count() == 1
    assert item.locator(".jp-mltrack-revoke-key").count() == 0
    r = _rest(team_lab, "GET", "me", headers=bearer)
    assert r.status_code == 401, r.text
    assert next(k for k in team_lab.store().list_keys("alice") if k["id"] == key_id)["revoked_at"] is not None


# -- project members ---------------------------------------------------------------------------------------------

def test_owner_adds_changes_and_removes_a_member(team_lab, team_page):
    page = team_page
    store = team_lab.store()
    _user(store, "carol")
    _user(store, "dave")
    store.create_project("TeamA", actor=_user(store, "alice"))
    assert _members(team_lab, "TeamA") == {"alice": "owner"}

    _open_sidebar(page, team_lab)
    project = page.locator('.jp-mltrack-project[data-project-name="TeamA"]')
    project.wait_for()
    assert project.locator(".jp-mltrack-role").inner_text() == "owner"
    settings = _open_members(page, "TeamA")
    page.wait_for_selector('.jp-mltrack-members[data-editable="true"] .jp-mltrack-member[data-user="alice"]'
                           '[data-role="owner"]')
    assert "owner" in settings.locator(".jp-mltrack-my-role").inner_text()

    # add carol as a contributor
    page.fill(".jp-mltrack-member-user-input", "carol")
    page.select_option(".jp-mltrack-member-role-input", "contributor")
    page.click(".jp-mltrack-add-member-button")
    page.wait_for_selector('.jp-mltrack-member[data-user="carol"][data-role="contributor"]')
    assert _members(team_lab, "TeamA") == {"alice": "owner", "carol": "contributor"}

    # change her role
    page.select_option('.jp-mltrack-member[data-user="carol"] .jp-mltrack-member-role-select', "viewer")
    page.wait_for_selector('.jp-mltrack-member[data-user="carol"][data-role="viewer"]')
    assert _members(team_lab, "TeamA") == {"alice": "owner", "carol": "viewer"}

    # remove her, after confirming
    page.click('.jp-mltrack-member[data-user="carol"] .jp-mltrack-remove-member')
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept", has_text="Remove").click()
    page.wait_for_selector('.jp-mltrack-member[data-user="carol"]', state="detached")
    assert _members(team_lab, "TeamA") == {"alice": "owner"}

    # a user the store does not know: the server's message
    page.fill(".jp-mltrack-member-user-input", "zed")
    page.click(".jp-mltrack-add-member-button")
    error = settings.locator(".jp-mltrack-team-error")
    error.wait_for()
    assert "no user 'zed'" in error.inner_text()
    assert _members(team_lab, "TeamA") == {"alice": "owner"}

    # the last owner cannot step down: 409, shown as a sentence
    page.select_option('.jp-mltrack-member[data-user="alice"] .jp-mltrack-member-role-select', "contributor")
    page.wait_for_function(
        "() => { const e = document.querySelector('.jp-mltrack-team-error'); return e && /last owner/.test(e.innerText); }")
    text = error.inner_text()
    assert "Refused: alice is the last owner of project 'TeamA'" in text, text
    assert _members(team_lab, "TeamA") == {"alice": "owner"}
    # the select shows the role the store holds, not the refused one
    page.wait_for_function(
        "() => document.querySelector('.jp-mltrack-member[data-user=\"alice\"] select').value === 'owner'")

    # demoted behind the page's back (another owner, while the page was not polling): the server refuses with a
    # 403 naming the role, and the page turns read-only
    _pause_polling(page, True)
    page.wait_for_timeout(500)  # a status poll already under way ends before the store changes
    store.set_member("TeamA", "dave", "owner")
    store.set_member("TeamA", "alice", "contributor")
    page.fill(".jp-mltrack-member-user-input", "carol")
    page.click(".jp-mltrack-add-member-button")
    page.wait_for_function(
        "() => { const e = document.querySelector('.jp-mltrack-team-error'); return e && /Not allowed/.test(e.innerText); }")
    text = error.inner_text()
    assert "Not allowed:" in text and "needs the role owner" in text and "alice is a contributor" in text, text
    assert _members(team_lab, "TeamA") == {"alice": "contributor", "dave": "owner"}
    page.wait_for_selector('.jp-mltrack-members[data-editable="false"]')
    assert page.locator(".jp-mltrack-add-member").count() == 0
    _pause_polling(page, False)


def test_non_owner_sees_the_members_read_only(team_lab, team_page):
    page = team_page
    store = team_lab.store()
    store.create_project("BobProj", actor=_user(store, "bob"))
    store.set_member("BobProj", "alice", "viewer")

    _open_sidebar(page, team_lab)
    project = page.locator('.jp-mltrack-project[data-project-name="BobProj"]')
    project.wait_for()
    assert project.locator(".jp-mltrack-role").inner_text() == "viewer"
    settings = _open_members(page, "BobProj")
    table = settings.locator('.jp-mltrack-members[data-editable="false"]')
    table.wait_for()
    rows = {r.get_attribute("data-user"): r.get_attribute("data-role")
            for r in settings.locator(".jp-mltrack-member").all()}
    assert rows == {"alice": "viewer", "bob": "owner"}
    assert "Your role here: viewer" in settings.locator(".jp-mltrack-my-role").inner_text()
    for control in ("select", "input", ".jp-mltrack-remove-member", ".jp-mltrack-add-member", "button"):
        assert settings.locator(control).count() == 0, control


# -- each run's user ---------------------------------------------------------------------------------------------

def _reveal_run(page, project: str, run_id: str):
    row = page.locator(f'.jp-mltrack-run[data-run-id="{run_id}"]')
    proj = page.locator(f'.jp-mltrack-project[data-project-name="{project}"]')
    proj.wait_for()
    if not row.count():
        if proj.get_attribute("aria-expanded") != "true":
            proj.click()
    row.wait_for()
    return row


def test_runs_show_their_user(team_lab, team_page):
    page = team_page
    store = team_lab.store()
    bob = _user(store, "bob")
    store.create_project("Shared", actor=bob)
    store.set_member("Shared", "alice", "contributor")
    store.write_batch({"runs": [{"id": "byBob01", "name": "bobs-run", "project": "Shared"}]}, actor=bob)
    # whatever user a client claims, the run records the server's: alice (the token's user)
    r = _rest(team_lab, "POST", "batch",
              json={"runs": [{"id": "byAlice1", "name": "alices-run", "project": "Shared", "user": "mallory"}]})
    assert r.status_code == 200, r.text
    users = {x["id"]: x["user"] for x in _rest(team_lab, "GET", "runs", params={"project": "Shared"}).json()["runs"]}
    assert users == {"byBob01": "bob", "byAlice1": "alice"}

    _open_sidebar(page, team_lab)
    for run_id, user in users.items():
        row = _reveal_run(page, "Shared", run_id)
        cell = row.locator(".jp-mltrack-run-user")
        assert cell.inner_text() == user and cell.get_attribute("data-user") == user
    page.locator('.jp-mltrack-run[data-run-id="byBob01"]').click()
    fact = page.locator('.jp-mltrack-run-detail[data-run-id="byBob01"] [data-fact="user"] td')
    fact.wait_for()
    assert fact.inner_text() == "bob"


# -- single-user mode --------------------------------------------------------------------------------------------

def test_single_user_mode_shows_no_team_ui(lab, page):
    me = lab.api("mltrack/api/me")
    assert me["access_control"] is False
    assert _rest(lab, "GET", "keys").status_code == 404
    store = lab.store()
    store.write_batch({"runs": [{"id": "solo01", "name": "solo-run", "project": "Solo", "user": "dora"}]})

    _open_sidebar(page, lab)
    row = _reveal_run(page, "Solo", "solo01")
    assert row.locator(".jp-mltrack-run-user").inner_text() == "dora"
    # the panel is up (tree, runs, header): none of the team pieces are in it
    for sel in (".jp-mltrack-team-bar", ".jp-mltrack-user", ".jp-mltrack-keys-button", ".jp-mltrack-admin-badge",
                ".jp-mltrack-project-settings-button", ".jp-mltrack-role", ".jp-mltrack-team-page"):
        assert page.locator(sel).count() == 0, sel
    assert page.locator(".jp-mltrack-header .jp-mltrack-refresh").is_visible()
    assert page.locator(".jp-mltrack-error").count() == 0


# -- an admin (last: the server remembers a user's admin flag for up to 30 s) --------------------------------------

def test_header_says_admin(team_lab, team_page):
    page = team_page
    store = team_lab.store()
    store.set_admin("alice", True)
    try:
        _wait(lambda: _rest(team_lab, "GET", "me").json()["admin"], 45, "the server to see alice as an admin")
        _open_sidebar(page, team_lab)
        user = page.locator(".jp-mltrack-header .jp-mltrack-user[data-user='alice']")
        user.wait_for()
        assert user.locator(".jp-mltrack-admin-badge").inner_text() == "admin"
        # an admin manages the members of any project, even one they are no member of
        store.create_project("Elsewhere", actor=_user(store, "erin"))
        page.click(".jp-mltrack-refresh")
        settings = _open_members(page, "Elsewhere")
        settings.locator('.jp-mltrack-members[data-editable="true"]').wait_for()
        assert "admin" in settings.locator(".jp-mltrack-my-role").inner_text()
    finally:
        store.set_admin("alice", False)
