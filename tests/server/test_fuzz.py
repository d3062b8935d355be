"""Fuzzing the REST API with schemathesis: the OpenAPI document against what a real server does.

``test_schemathesis_finds_nothing`` starts a real ``jupyter server`` (a subprocess, fresh temporary store and Jupyter
folders, a token, a free port), seeds it through the Python client in remote mode (two runs with params, metrics,
a tag, an artifact and a registered model, so that reads have something to find), then runs the schemathesis CLI
(``st run …/mltrack/api/openapi.json --checks all``) against it for a fixed time and seed. It fails when schemathesis
reports anything — a 5xx, a response that does not match its schema, a status code the document does not list, a
schema-valid request refused or a schema-violating one accepted — and prints schemathesis' report; it also fails
when the server logged a 500 or an uncaught traceback, or stopped answering.

Settings: tests/server/schemathesis.toml (and fuzz_hooks.py, which it loads). Environment knobs:
``MLTRACK_FUZZ_SECONDS`` (schemathesis' time budget, default 50) and ``MLTRACK_FUZZ_SEED`` (default fixed, so a run
is reproducible; any integer explores other cases).

``test_served_openapi_document_is_valid`` is the fast part: the document as the server serves it is valid
OpenAPI 3.1 and the same as ``openapi.document()``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
import requests

from tests._server import JupyterServer
from tests._subprocess import REPO, subprocess_env, write_script

HERE = REPO / "tests" / "server"
CONFIG = HERE / "schemathesis.toml"
HOOKS = HERE / "fuzz_hooks.py"
MAX_TIME = int(os.environ.get("MLTRACK_FUZZ_SECONDS") or 50)
SEED = int(os.environ.get("MLTRACK_FUZZ_SEED") or 20261203)

SEED_SCRIPT = """
import json, pathlib, sys
import jupyter_mltrack as mlt

folder = pathlib.Path(sys.argv[1])
note = folder / "note.txt"
note.write_text("hello from the fuzz test\\n")
with mlt.start_run(name="fuzz-a", project="fuzz", experiment="exp", params={"lr": 0.1, "opt": "adam"},
                   tags={"kind": "seed"}, capture_environment=False) as a:
    for i in range(10):
        a.log_metric("loss", 1.0 / (i + 1), step=i)
    a.log_metric("acc", 0.5, step=0, context={"subset": "val"})
    a.log_artifact(note, name="note", type="text")
with mlt.start_run(name="fuzz-b", project="fuzz", params={"lr": 0.2, "opt": "sgd"}, capture_environment=False) as b:
    b.log_metric("loss", 0.3, step=0)
mlt.flush()
mlt.register_model("m", a, artifact="note", stage="staging")
print(json.dumps({"a": a.id, "b": b.id}))
"""

#: What a server log line looks like when a request failed inside the server.
SERVER_ERRORS = re.compile(r"\] 5\d\d (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) |Traceback \(most recent call last\)|"
                           r"Uncaught exception|Exception in callback")


def _report(output: str) -> str:
    """schemathesis' failures and summary (its banner and progress lines are noise here)."""
    start = output.find("=== FAILURES ===")
    start = output.rfind("\n", 0, start) + 1 if start >= 0 else max(0, len(output) - 20_000)
    text = output[start:]
    return text if len(text) <= 40_000 else text[:20_000] + "\n[…]\n" + text[-20_000:]


def _server_errors(log: str) -> list[str]:
    lines = log.splitlines()
    hits = [i for i, line in enumerate(lines) if SERVER_ERRORS.search(line)]
    out = []
    for i in hits[:10]:
        out.append("\n".join(lines[max(0, i - 2):i + 25]))
    return out


@pytest.mark.slow
def test_schemathesis_finds_nothing(tmp_path):
    pytest.importorskip("schemathesis")
    with JupyterServer(tmp_path, str(tmp_path / "store" / "mltrack.db")) as server:
        # seed: a real client in remote mode, through the server's REST API
        seed = subprocess.run(
            [sys.executable, str(write_script(tmp_path, SEED_SCRIPT)), str(tmp_path)], capture_output=True,
            text=True, timeout=120, cwd=tmp_path,
            env=subprocess_env(MLTRACK_URI=server.client_uri, MLTRACK_HOME=str(tmp_path / "client-home")))
        assert seed.returncode == 0, f"seeding failed:\n{seed.stdout}\n{seed.stderr}\n{server.log()[-3000:]}"
        ids = json.loads(seed.stdout.strip().splitlines()[-1])
        runs = requests.get(server.api + "runs", headers=server.headers, timeout=10).json()
        assert runs["total"] == 2, runs
        run_a = requests.get(server.api + "runs/" + ids["a"], headers=server.headers, timeout=10).json()
        ids["artifact"] = run_a["artifacts"][0]["id"]

        # fuzz: schemathesis' own CLI, from a scratch folder (it writes .hypothesis/ and .schemathesis/ there)
        work = tmp_path / "schemathesis"
        work.mkdir()
        cmd = [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(CONFIG), "run",
               server.api + "openapi.json", "-H", f"Authorization: token {server.token}", "--checks", "all",
               "-w", "1", "--max-time", str(MAX_TIME), "--seed", str(SEED)]
        env = subprocess_env(SCHEMATHESIS_HOOKS=str(HOOKS), MLTRACK_FUZZ_RUN_A=ids["a"], MLTRACK_FUZZ_RUN_B=ids["b"],
                             MLTRACK_FUZZ_ARTIFACT=str(ids["artifact"]), COLUMNS="120", NO_COLOR="1")
        started = time.monotonic()
        st = subprocess.run(cmd, capture_output=True, text=True, timeout=MAX_TIME + 120, cwd=work, env=env)
        elapsed = time.monotonic() - started
        output = st.stdout + st.stderr
        cases = re.search(r"(\d+) generated", output)
        print(f"schemathesis: exit {st.returncode} after {elapsed:.0f} s, "
              f"{cases.group(1) if cases else '?'} generated cases (seed {SEED})")

        # the server survived and still answers
        alive = requests.get(server.api + "status", headers=server.headers, timeout=10)
        assert alive.status_code == 200, f"the server stopped answering after the fuzzing:\n{server.log()[-5000:]}"

    problems = []
    if st.returncode != 0:
        problems.append(f"schemathesis found problems (exit {st.returncode}); replay a case with the curl line it "
                        f"prints.\n\n{_report(output)}")
    elif not cases or int(cases.group(1)) < 200:
        problems.append(f"schemathesis generated too few cases:\n{_report(output)}")
    errors = _server_errors(server.log())
    if errors:
        problems.append("the server logged failures while being fuzzed:\n\n" + "\n\n---\n".join(errors))
    assert not problems, "\n\n=====\n\n".join(problems)


async def test_served_openapi_document_is_valid(jp_fetch):
    """The document the server serves (not only the one openapi.document() builds) is valid OpenAPI 3.1."""
    validator = pytest.importorskip("openapi_spec_validator")
    from jupyter_mltrack.server.openapi import document
    from jupyter_mltrack.version import __version__

    r = await jp_fetch("mltrack", "api", "openapi.json")
    assert r.headers["Content-Type"].startswith("application/json")
    served = json.loads(r.body)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.OpenAPIV31SpecValidator(served).iter_errors()]
    assert not errors, "\n".join(errors)
    assert served == json.loads(json.dumps(document(__version__))), "the served document differs from document()"
