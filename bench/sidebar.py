"""Browser-side timing of the sidebar on a large project: a real JupyterLab on a store of N runs × (20 params,
10 metrics) in one project (workload 13's data, seeded with ``Store.write_batch`` before the server starts),
Debian's chromium driven by Playwright, timed inside the page (``performance.now()``, the end taken after the next
animation frame, i.e. once painted).

Rows:

- S1: the sidebar's first rows: JupyterLab freshly loaded (``?reset``), from activating the sidebar (what a click on
  its icon does) to its project's first run rows painted (the only project opens by itself, its "All runs" group
  too, listing the newest 50). Median of ``--reps`` page loads.
- S2: the next page of rows: from "Show more" to the rows after the first 50 painted.

    .venv/bin/python bench/sidebar.py [--runs 100000] [--reps 5] [--markdown FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (REPO, BENCH, BENCH / "adapters"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from explorer import _WAIT, seed  # noqa: E402
from run import machine_info  # noqa: E402
from tests.ui.conftest import CHROMIUM_ARGS, launch_lab, stop_lab  # noqa: E402

_OPEN = """async () => {
  const t0 = performance.now();
  window.jupyterapp.shell.activateById('mltrack-sidebar');  // what a click on its icon does
  const t1 = await window.__mltWait(() =>
    document.querySelectorAll('#mltrack-sidebar .jp-mltrack-run[data-run-id]').length >= 10, 120000);
  return [t1 - t0, document.querySelectorAll('#mltrack-sidebar .jp-mltrack-run[data-run-id]').length];
}"""

_MORE = """async () => {
  const n = document.querySelectorAll('#mltrack-sidebar .jp-mltrack-run[data-run-id]').length;
  const more = document.querySelector('#mltrack-sidebar .jp-mltrack-show-more');
  if (!more) return [null, n];
  const t0 = performance.now();
  more.click();
  const t1 = await window.__mltWait(() =>
    document.querySelectorAll('#mltrack-sidebar .jp-mltrack-run[data-run-id]').length > n, 120000);
  return [t1 - t0, document.querySelectorAll('#mltrack-sidebar .jp-mltrack-run[data-run-id]').length];
}"""


def measure(lab, reps: int) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {"first_rows_ms": [], "first_rows": [], "more_ms": [], "rows_after_more": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
            page.set_default_timeout(120_000)
            for rep in range(reps + 1):  # the first load warms the browser's and the server's caches: not recorded
                page.goto(f"{lab.url}lab?reset&token={lab.token}")
                page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started !== undefined",
                                       timeout=120_000)
                page.evaluate("async () => { await window.jupyterapp.restored; }")
                page.wait_for_selector('.jp-SideBar li[data-id="mltrack-sidebar"]')
                page.evaluate(_WAIT)
                try:
                    ms, n = page.evaluate(_OPEN)
                except Exception:
                    page.screenshot(path=str(Path(tempfile.gettempdir()) / "mltrack-bench-sidebar.png"))
                    raise
                more_ms, n2 = page.evaluate(_MORE)
                if rep:
                    out["first_rows_ms"].append(ms)
                    out["first_rows"].append(n)
                    out["more_ms"].append(more_ms)
                    out["rows_after_more"].append(n2)
        finally:
            browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--markdown")
    ap.add_argument("--json", default=str(BENCH / "results" / "sidebar-latest.json"))
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mltrack-bench-sidebar-"))
    try:
        from jupyter_mltrack import Store

        store = Store(str(base / "store"))
        try:
            info = seed(store, args.runs, 0, 0)
        finally:
            store.close()
        lab = launch_lab(base)
        try:
            figures = measure(lab, args.reps)
        finally:
            stop_lab(lab)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    medians = {k: statistics.median(v) for k, v in figures.items() if v and None not in v}
    result = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": args.runs, "reps": args.reps,
              "machine": machine_info(), "seed": info, "figures": figures, "medians": medians}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1))
    n = f"{args.runs:,}"
    rows = [("S1", f"sidebar's first rows, {n} runs in the project: open it → first rows painted",
             "first_rows_ms", 1000),
            ("S2", "the next 50 rows: click “Show more” → painted", "more_ms", None)]
    lines = ["| # | figure (ms, median; ↓ lower is better) | target | sidebar | repetitions |", "|---|---|---|---|---|"]
    for rid, label, key, target in rows:
        med = medians.get(key)
        ok = "" if target is None or med is None else (" ✓" if med <= target else " ✗")
        reps = ", ".join("—" if x is None else f"{x:.0f}" for x in figures[key])
        lines.append(f"| {rid} | {label} | {'≤ %d ms' % target if target else ''} | "
                     f"{'—' if med is None else f'{med:.0f} ms'}{ok} | {reps} |")
    table = "\n".join(lines)
    print(table)
    print(f"\nrows shown {figures['first_rows']} → {figures['rows_after_more']}; seeded in {info['seed_s']:.1f} s; "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")


if __name__ == "__main__":
    main()
