"""Mutation testing of the modules that hold the rules (``make mutate``; not part of ``make test``).

For each module, mutmut (https://github.com/boxed/mutmut) plants one small change at a time (an operator, a
constant, a condition, a dropped call...) and runs the tests that exercise the changed function; a mutant the tests
do not notice "survived". Each module runs in its own folder under ``build/mutate/<module>/`` (mutmut works in a
``mutants/`` copy of the package, so the checkout is never changed) with the in-process tests that reach it, on
SQLite only (the PostgreSQL parametrisations are deselected: the rules are the same code).

    python tests/mutate.py                 # every module, one after the other
    python tests/mutate.py series blobs    # some of them
    python tests/mutate.py --report        # the table and the survivors of the last runs, without running
    python tests/mutate.py --worktree ...  # the working tree as it is (default: the last commit, HEAD)
    python tests/mutate.py --again series  # the last run's survivors again, with the working tree's tests
    python tests/mutate.py --again series --tests tests/core/test_series_edges.py   # only the new tests
    python tests/mutate.py --recheck search_sql   # mutmut's "timeouts" again, each alone in a fresh process

Writes ``build/mutate/summary.json`` and ``build/mutate/survivors.txt`` (each surviving mutant's diff) and prints
killed / total per module. docs/mutation.md records a full run and why each survivor is equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutate"

#: the in-process tests that reach the rule modules (directly or through the client, the writer thread, the store's
#: other concepts). mutmut records which of them reach each mutated function and runs only those for its mutants, so
#: one broad list costs only the one recording run (about a minute) and no function is left without its tests.
#: Tests that start a Jupyter server in a subprocess (tests/server/test_read_paths.py, test_retries.py) are left out:
#: mutmut stops a slow mutant's tests at a time limit and the server it started would outlive it.
RULE_TESTS = [
    *(f"tests/core/test_{n}.py" for n in (
        "rules", "validation", "validation_edges", "batch_edges", "store", "write_path", "search", "search_limits",
        "search_messages", "series", "series_edges", "chunk_packing", "downsampling", "overviews", "registry", "jobs",
        "figures", "datasets_lineage", "access", "describe", "metric_store_edges")),
    *(f"tests/client/test_{n}.py" for n in (
        "run", "writer", "writer_edges", "writer_wakeups", "writer_fork", "figures", "limits", "streams", "lock_free",
        "series_buffer")),
    "tests/test_registry.py",
]
#: the store-core tests of that list: for the batch checks, which the client's writer thread calls through the store.
#: A mutant that makes a check raise the wrong exception sends the writer into retrying it, and a client test then
#: waits out its flush's timeout (a minute, blocked: mutmut's limit counts CPU time, so nothing stops it sooner);
#: called directly, the store raises at once.
CORE_TESTS = [t for t in RULE_TESTS if t.startswith("tests/core/")]

#: the test files that pin a module's rules down directly (quick, in-process): ``--recheck`` runs them first
QUICK_TESTS = {
    "batch": ("tests/core/test_batch_edges.py", "tests/core/test_rules.py"),
    "validation": ("tests/core/test_validation_edges.py", "tests/core/test_validation.py"),
    "search_sql": ("tests/core/test_search.py", "tests/core/test_search_limits.py"),
    "search": ("tests/core/test_search_messages.py", "tests/core/test_search.py", "tests/core/test_search_limits.py"),
    "series": ("tests/core/test_downsampling.py", "tests/core/test_series_edges.py", "tests/core/test_series.py",
               "tests/core/test_chunk_packing.py"),
}

#: module → (its file, the test files that may reach it)
MODULES: dict[str, tuple[str, list[str]]] = {
    "series": ("jupyter_mltrack/core/series.py", RULE_TESTS),
    "search": ("jupyter_mltrack/core/search.py", RULE_TESTS),
    "search_sql": ("jupyter_mltrack/core/search_sql.py", RULE_TESTS),
    "batch": ("jupyter_mltrack/core/batch.py", CORE_TESTS),
    # the store's write of a batch: every write of every test goes through it, so mutmut runs many tests per mutant;
    # the store-core tests pin its rules down (the client's tests reach it only through the writer thread)
    "run_writes": ("jupyter_mltrack/core/run_writes.py", CORE_TESTS),
    # the points' part of that write: series rows, chunks packed and topped up, one-point series kept in their row
    "metric_store": ("jupyter_mltrack/core/metric_store.py", CORE_TESTS),
    "validation": ("jupyter_mltrack/core/validation.py", RULE_TESTS),
    "blobs": ("jupyter_mltrack/core/blobs.py", [
        "tests/core/test_blobs.py", "tests/core/test_blob_layout.py", "tests/core/test_blob_gc.py"]),
    "writer": ("jupyter_mltrack/client/writer.py", RULE_TESTS),
    # a series' points not yet stored: the client's tests (the store's own tests never reach it)
    "series_buffer": ("jupyter_mltrack/client/series_buffer.py",
                      [t for t in RULE_TESTS if t.startswith("tests/client/")]),
}

#: pytest's per-test time limit (seconds). Unmutated, no test of RULE_TESTS takes over 2 s (``--durations``). A
#: mutant of the writer or of the flush's store side that loses a batch makes a client test wait out its flush's
#: timeout (60 s) and then fail; a limit of 15 s fails it there instead (a flush that hangs is the bug) and keeps such
#: a module's run from lasting hours. ``series``: a mutant that breaks every write leaves a producer waiting at the
#: writer's cap for good (tests/client/test_lock_free.py); at 120 s a test, its run went at 2 mutants a minute.
TEST_TIMEOUT = {"writer": 15, "run_writes": 15, "metric_store": 15, "series_buffer": 15, "series": 20}

#: deselected everywhere: the PostgreSQL runs of the same tests, one test that takes 40 s by itself, and the test
#: that a warning names the user's line: mutmut calls every function through its own trampoline module, a frame
#: outside the package, so the warning names the trampoline's line and the test fails on the unmutated code
DESELECT = ("not postgresql and not test_one_point_batches_read_back_exactly"
            " and not test_a_problem_is_warned_about_at_the_users_line")

# Python subprocesses started by tests import the mutated copy too (their PYTHONPATH is the copy), so they run the
# mutant under test; only while mutmut records which tests reach which function do they run the original code
# (recording needs mutmut's configuration, which a subprocess in another folder cannot find).
SUBPROCESS_PATCH = """

# -- added by tests/mutate.py ---------------------------------------------------------------------------------------
from tests import _subprocess as _mutate_sp

_mutate_env = _mutate_sp.subprocess_env


def _subprocess_env_for_mutation(**extra):
    env = _mutate_env(**extra)
    if env.get("MUTANT_UNDER_TEST") == "stats":
        env["MUTANT_UNDER_TEST"] = ""
    return env


_mutate_sp.subprocess_env = _subprocess_env_for_mutation
"""

STATUS_LINE = re.compile(r"^\s+(\S+): (.+)$")


def copy_sources(d: Path, worktree: bool) -> None:
    """The package, the tests and the pytest settings into ``d`` (as committed in HEAD, or as they are in the
    working tree), with the subprocess patch appended to the copy's conftest."""
    for sub in ("jupyter_mltrack", "tests"):
        shutil.rmtree(d / sub, ignore_errors=True)
    if worktree:
        ignore = shutil.ignore_patterns("__pycache__", "labextension", "screenshots", "*.pyc")
        shutil.copytree(ROOT / "jupyter_mltrack", d / "jupyter_mltrack", ignore=ignore)
        shutil.copytree(ROOT / "tests", d / "tests", ignore=ignore)
        shutil.copy2(ROOT / "pyproject.toml", d / "pyproject.toml")
    else:
        archive = subprocess.run(["git", "archive", "HEAD", "jupyter_mltrack", "tests", "pyproject.toml"], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(d)], input=archive, check=True)
        shutil.copy2(ROOT / "jupyter_mltrack" / "_version.py", d / "jupyter_mltrack" / "_version.py")  # built
    with open(d / "tests" / "conftest.py", "a") as f:  # the copy's conftest, not the checkout's
        f.write(SUBPROCESS_PATCH)


def write_config(d: Path, name: str, tests: list[str] | None = None) -> None:
    path, module_tests = MODULES[name]
    tests = tests or module_tests
    lines = ["[mutmut]", "source_paths = jupyter_mltrack", f"only_mutate = {path}",
             "pytest_add_cli_args_test_selection =", *(f"    {t}" for t in tests),
             "pytest_add_cli_args =", "    -p", "    no:cacheprovider", "    -k", f"    {DESELECT}",
             f"    --timeout={TEST_TIMEOUT.get(name, 120)}",
             # a timed-out test ends its process (mutmut counts the mutant killed): with the default method, a
             # SIGALRM raised in the test body, a mutant that then hangs in a fixture's teardown (a writer's close
             # spinning in a flush) kept its process busy until mutmut's CPU-time limit, many minutes
             "    --timeout-method=thread",
             # mutmut stops a mutant's tests after (their recorded time + timeout_constant) × 15 seconds of wall time
             # and calls it a timeout (counted as killed). With the default constant of 1 s, the forked child's own
             # start (collecting the test files) under some load ran past that for quick tests: 319 of search_sql's
             # 694 mutants were "timeouts". A hanging test is still stopped by pytest's --timeout above.
             "timeout_constant = 30",
             # the CPU-time limit is ((recorded time of the function's tests) + 30 s) × multiplier × 2: a backstop
             # only (pytest's limit above stops a hanging test); mutmut's default multiplier, 15, let one mutant of
             # the writer's flush (45 s of tests) run for 37 minutes
             "timeout_multiplier = 3",
             # each mutant's tests run in a process forked from a clean server, not from the process that ran
             # the whole selection (whose leftover threads — store write threads — deadlock forked children)
             "process_isolation = forkserver", ""]
    (d / "setup.cfg").write_text("\n".join(lines))


def prepare(name: str, worktree: bool) -> Path:
    """A fresh folder for ``name``: its sources and a mutmut config."""
    d = WORK / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    copy_sources(d, worktree)
    write_config(d, name)
    return d


def mutmut(d: Path, max_children: int, names: list[str] = ()) -> int:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    with open(d / "mutmut.log", "a") as out:
        return subprocess.call([sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *names],
                               cwd=d, stdout=out, stderr=subprocess.STDOUT, env=env)


def run(name: str, max_children: int, worktree: bool) -> dict:
    d = prepare(name, worktree)
    t0 = time.monotonic()
    rc = mutmut(d, max_children)
    seconds = time.monotonic() - t0
    result = collect(name)
    result.update(seconds=round(seconds), exit_code=rc)
    return result


def again(name: str, max_children: int, tests: list[str] | None = None) -> dict:
    """Check the last run's survivors again with the package and tests as they are now in the working tree (tests
    written for them); mutmut records which of the new tests reach each function and keeps every other verdict.
    ``tests``: only these test files (those written since: every survivor already passed all the others, so
    running only the new ones gives the same verdicts in a fraction of the time, while the code is unchanged)."""
    d = WORK / name
    before = collect(name)
    # mutmut resets every verdict of the file when the test list changes: keep the ones not checked again
    kept = {k: v for k, v in before["statuses"].items() if k not in before["survivors"] and v != "not checked"}
    (d / "kept.json").write_text(json.dumps(kept, indent=1))
    copy_sources(d, worktree=True)
    write_config(d, name, tests)
    t0 = time.monotonic()
    rc = mutmut(d, max_children, before["survivors"])
    result = collect(name)
    old = json.loads((WORK / "summary.json").read_text()).get(name, {}) if (WORK / "summary.json").exists() else {}
    result.update(seconds=old.get("seconds", 0) + round(time.monotonic() - t0), exit_code=rc,
                  first_run={"killed": before["killed"], "total": before["total"]})
    return result


def collect(name: str) -> dict:
    d = WORK / name
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=d, capture_output=True,
                         text=True).stdout
    statuses: dict[str, str] = {}
    for line in out.splitlines():
        m = STATUS_LINE.match(line)
        if m:
            statuses[m.group(1)] = m.group(2)
    kept = d / "kept.json"
    if kept.exists():  # verdicts from before an --again run, which mutmut resets to "not checked" (see again)
        statuses.update({k: v for k, v in json.loads(kept.read_text()).items() if statuses.get(k) == "not checked"})
    rechecked = d / "recheck.json"
    if rechecked.exists():  # verdicts of "timeouts" run again in a fresh process (see recheck)
        statuses.update({k: v for k, v in json.loads(rechecked.read_text()).items() if statuses.get(k) == "timeout"})
    counts: dict[str, int] = {}
    for s in statuses.values():
        counts[s] = counts.get(s, 0) + 1
    survivors = sorted(k for k, s in statuses.items() if s not in ("killed", "timeout"))
    diffs = {}
    for k in survivors:
        diffs[k] = subprocess.run([sys.executable, "-m", "mutmut", "show", k], cwd=d, capture_output=True,
                                  text=True).stdout
    # a mutant that makes the tests run past mutmut's time limit (an endless loop) is caught too
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    return {"module": MODULES[name][0], "total": len(statuses), "killed": killed,
            "counts": counts, "survivors": survivors, "diffs": diffs, "statuses": statuses}


#: mutmut's exit codes that it reports as "timeout": its CPU or wall-time limit (SIGXCPU, 36) — and 255, which is
#: also what its worker exits with when running the tests raised (pytest's usage error, exit code 4, among others)
TIMEOUT_CODES = {36, 24, -24, 152, 255}


def recheck(name: str, max_children: int) -> dict[str, str]:
    """Run each mutant mutmut called a timeout again, alone, in a fresh ``python -m pytest`` with its tests (the ones
    mutmut recorded as reaching its function, quickest first, stopping at the first failure): "killed" when a test
    fails, "survived" when none does, "timeout" when they still run past 10 minutes. In the forked workers of
    mutmut 3.8 some mutants' tests ended with exit code 255 within seconds — an exception in the worker, not a
    timeout; run alone, the same mutants are killed or survive. Verdicts go to ``recheck.json``."""
    from concurrent.futures import ThreadPoolExecutor

    d = WORK / name
    mutants = d / "mutants"
    stats = json.loads((mutants / "mutmut-stats.json").read_text())
    meta = json.loads((mutants / (MODULES[name][0] + ".meta")).read_text())
    todo = sorted(k for k, code in meta["exit_code_by_key"].items() if code in TIMEOUT_CODES)
    durations = stats["duration_by_test"]

    def pytest(key: str, tests: list[str]) -> int | None:
        args = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", *tests, "-p", "no:cacheprovider",
                "-k", DESELECT, "--timeout=120"]
        env = dict(os.environ, MUTANT_UNDER_TEST=key, PYTHONDONTWRITEBYTECODE="1")
        try:
            return subprocess.run(args, cwd=mutants, env=env, capture_output=True, timeout=600).returncode
        except subprocess.TimeoutExpired:
            return None

    def one(key: str) -> tuple[str, str]:
        tests = sorted(stats["tests_by_mangled_function_name"].get(key.split("__mutmut_")[0], ()),
                       key=lambda t: durations.get(t, 0))
        if not tests:
            return key, "no tests"
        # the module's own quick test files first: most mutants fail there within a second, without collecting
        # the dozen other files of the list (about 15 s a mutant)
        quick = [t for t in tests if t.split("::")[0] in QUICK_TESTS.get(name, ())]
        if quick and pytest(key, quick) == 1:
            return key, "killed"
        rc = pytest(key, tests)
        if rc is None:
            return key, "timeout"
        return key, {0: "survived", 1: "killed"}.get(rc, f"exit code {rc}")

    out = d / "recheck.json"
    verdicts = json.loads(out.read_text()) if out.exists() else {}  # an interrupted recheck goes on where it was
    with ThreadPoolExecutor(max_children) as pool:
        for key, verdict in pool.map(one, [k for k in todo if k not in verdicts]):
            verdicts[key] = verdict
            out.write_text(json.dumps(verdicts, indent=1))
    return verdicts


def report(results: dict[str, dict]) -> None:
    """Merge these modules' results into ``summary.json`` (the other modules keep their last figures), write each
    module's survivors with their diffs, and print the table of every module measured so far."""
    WORK.mkdir(parents=True, exist_ok=True)
    summary_path = WORK / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for name, r in results.items():
        summary[name] = {x: v for x, v in r.items() if x not in ("diffs", "statuses")}
        with open(WORK / name / "survivors.txt", "w") as f:
            for k in r["survivors"]:
                f.write(f"==== {name}: {k}\n{r['diffs'].get(k, '')}\n")
    summary_path.write_text(json.dumps(summary, indent=1))
    with open(WORK / "survivors.txt", "w") as f:
        for name in summary:
            if (WORK / name / "survivors.txt").exists():
                f.write((WORK / name / "survivors.txt").read_text())
    print(f"{'module':<40} {'killed':>7} {'total':>6} {'score':>7} {'time':>7}")
    for r in summary.values():
        score = 100 * r["killed"] / r["total"] if r["total"] else 0.0
        print(f"{r['module']:<40} {r['killed']:>7} {r['total']:>6} {score:>6.1f}% {r.get('seconds', 0):>6}s",
              r.get("counts", {}))
    total = sum(r["total"] for r in summary.values())
    killed = sum(r["killed"] for r in summary.values())
    if total:
        print(f"{'all':<40} {killed:>7} {total:>6} {100 * killed / total:>6.1f}%")
    print(f"survivors: {WORK / 'survivors.txt'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="*", metavar="module",
                    help="modules to mutate (default: all): " + ", ".join(MODULES))
    ap.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--report", action="store_true", help="only summarise the last runs")
    ap.add_argument("--worktree", action="store_true", help="the working tree as it is (default: HEAD)")
    ap.add_argument("--again", action="store_true",
                    help="check the last run's survivors again with the working tree's tests and code")
    ap.add_argument("--recheck", action="store_true",
                    help="run the last run's 'timeouts' again, each alone in a fresh process (see recheck)")
    ap.add_argument("--tests", nargs="+", metavar="FILE",
                    help="with --again: run only these test files (the ones written for the survivors)")
    args = ap.parse_args()
    names = args.modules or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        ap.error(f"unknown module {unknown[0]!r}; choose from {', '.join(MODULES)}")
    results = {}
    for name in names:
        if args.report or args.recheck:
            if (WORK / name / "mutants").exists():
                if args.recheck:
                    print(f"checking {MODULES[name][0]}'s timeouts again ...", flush=True)
                    verdicts = recheck(name, args.max_children)
                    print("  ", {v: list(verdicts.values()).count(v) for v in set(verdicts.values())}, flush=True)
                results[name] = collect(name)
            continue
        print(f"mutating {MODULES[name][0]} ...", flush=True)
        if args.again:
            results[name] = again(name, args.max_children, args.tests)
        else:
            results[name] = run(name, args.max_children, args.worktree)
        r = results[name]
        print(f"  {r['killed']}/{r['total']} killed in {r['seconds']} s", flush=True)
    if args.report or args.recheck:
        old = json.loads((WORK / "summary.json").read_text()) if (WORK / "summary.json").exists() else {}
        for name, r in results.items():
            r["seconds"] = old.get(name, {}).get("seconds", 0)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
