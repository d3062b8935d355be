"""Browser-side timings of the experiment explorer: a real JupyterLab on a seeded store, Debian's chromium driven by
Playwright, every figure timed inside the page (``performance.now()``, the end taken after the next animation frame,
i.e. once the browser has painted).

Rows:

- E1: the run table's first paint with 10,000 runs × (20 params, 10 metrics) in the project (workload 5's data):
  from ``mltrack:open-explorer`` (a fresh explorer: projects, columns and the first page fetched) to the first
  rows painted. Median of ``--reps`` openings (the explorer closed in between).
- E2: scrolling that table to the middle and to the end: from setting ``scrollTop`` to the rows there painted.
- E3: a metric chart of 1,000 runs (1,000 points each, workload 8's data) grouped by a param (4 groups) with a
  min/max band: from ticking the metric to the chart painted (series fetched, downsampled to ≤ 400 points per run
  by the server, grouped, drawn).
- E3′: the same 1,000 runs one line each.
- E4: switching the band to standard error on that chart: a redraw without fetching (interactivity).

    .venv/bin/python bench/explorer.py [--quick] [--markdown FILE] [--json FILE]
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

import numpy as np  # noqa: E402

import _common as C  # noqa: E402
from run import machine_info  # noqa: E402
from tests.ui.conftest import CHROMIUM_ARGS, launch_lab, stop_lab  # noqa: E402

TABLE_PROJECT = "table"
CHART_PROJECT = "overlay"
GROUPS = ("adam", "sgd", "rmsprop", "adagrad")


def seed(store, n_table: int, n_chart: int, n_points: int) -> dict:
    t0 = time.perf_counter()
    data = C.run_table_data(n_table)
    now = time.time()
    runs = data["runs"]
    for b in range(0, len(runs), 1000):
        batch = {"runs": [], "params": [], "metrics": [], "updates": []}
        for i in range(b, min(b + 1000, len(runs))):
            r, rid = runs[i], f"t{i:06d}"
            batch["runs"].append({"id": rid, "name": r["name"], "project": TABLE_PROJECT, "start_time": now + i * 1e-3})
            batch["params"] += [{"run_id": rid, "key": k, "value": v} for k, v in r["params"].items()]
            batch["metrics"] += [{"run_id": rid, "name": k, "steps": [0], "values": [v]} for k, v in r["metrics"].items()]
            batch["updates"].append({"run_id": rid, "status": "finished", "end_time": now + i * 1e-3 + 1})
        store.write_batch(batch)
    rng = np.random.default_rng(3)
    steps = np.arange(n_points, dtype=np.int64)
    for b in range(0, n_chart, 100):
        batch = {"runs": [], "params": [], "metrics": [], "updates": []}
        for i in range(b, min(b + 100, n_chart)):
            rid = f"c{i:05d}"
            level = 0.1 * (1 + i % len(GROUPS))
            vals = level + 1.0 / (1.0 + 0.01 * steps) + 0.02 * rng.standard_normal(n_points)
            batch["runs"].append({"id": rid, "name": f"curve{i:05d}", "project": CHART_PROJECT})
            batch["params"].append({"run_id": rid, "key": "optimizer", "value": GROUPS[i % len(GROUPS)]})
            batch["metrics"].append({"run_id": rid, "name": "loss", "steps": steps, "values": vals})
            batch["updates"].append({"run_id": rid, "status": "finished", "end_time": now})
        store.write_batch(batch)
    return {"seed_s": time.perf_counter() - t0}


# in-page helpers: wait for a condition on the DOM, then for the next frame (painted)
_WAIT = """() => {
window.__mltWait = (cond, timeout = 60000) => new Promise((resolve, reject) => {
  const t0 = performance.now();
  const tick = () => {
    let ok = false;
    try { ok = cond(); } catch (e) { ok = false; }
    if (ok) { requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now()))); return; }
    if (performance.now() - t0 > timeout) { reject(new Error('timed out')); return; }
    requestAnimationFrame(tick);
  };
  tick();
});
}"""

_OPEN_TABLE = """async ([project, total]) => {
  const app = window.jupyterapp;
  const t0 = performance.now();
  app.commands.execute('mltrack:open-explorer');
  await window.__mltWait(() => document.querySelector('.jp-mltrack-explorer-project'));
  const sel = document.querySelector('.jp-mltrack-explorer-project');
  if (sel.value !== project) {
    const setter = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set;
    setter.call(sel, project);
    sel.dispatchEvent(new Event('change', { bubbles: true }));
  }
  const t1 = await window.__mltWait(() =>
    document.querySelector('.jp-mltrack-explorer-table')?.dataset.total === String(total) &&
    document.querySelectorAll('.jp-mltrack-explorer-row[data-run-id]').length > 10);
  return t1 - t0;
}"""

_SCROLL = """async (fraction) => {
  const el = document.querySelector('.jp-mltrack-explorer-table');
  const t0 = performance.now();
  el.scrollTop = fraction * (el.scrollHeight - el.clientHeight);
  el.dispatchEvent(new Event('scroll'));
  const first = Math.floor(el.scrollTop / 26);
  const t1 = await window.__mltWait(() => {
    const rows = [...document.querySelectorAll('.jp-mltrack-explorer-row[data-run-id]')].map(r => +r.dataset.index);
    return rows.some(i => i >= first && i <= first + 5);
  });
  return t1 - t0;
}"""

_CHART = """async ([lines, groups]) => {
  const box = [...document.querySelectorAll('.jp-mltrack-explorer-metric-picker label')]
    .find(l => l.textContent.trim() === 'loss').querySelector('input');
  performance.clearResourceTimings();  // the buffer holds 250 entries: the earlier openings filled it
  const t0 = performance.now();
  box.click();
  const t1 = await window.__mltWait(() => {
    const c = document.querySelector('.jp-mltrack-explorer-chart[data-metric="loss"]');
    return c && c.dataset.lines === String(lines) && c.dataset.groups === String(groups) && c.querySelector('canvas');
  }, 120000);
  // the requests' share: the run list and the series, from the browser's resource timings
  const mine = performance.getEntriesByType('resource').filter(e => e.startTime >= t0 &&
    (e.name.includes('/mltrack/api/metrics') || e.name.includes('/mltrack/api/runs')));
  const fetched = mine.length ? Math.max(...mine.map(e => e.responseEnd)) - t0 : 0;
  return [t1 - t0, fetched, mine.length];
}"""


def measure(lab, n_table: int, n_chart: int, reps: int) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {"table_first_paint_ms": [], "scroll_middle_ms": [], "scroll_end_ms": [],
                 "chart_grouped_ms": [], "chart_grouped_fetch_ms": [], "chart_grouped_requests": [],
                 "chart_lines_ms": [], "band_redraw_ms": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
            page = ctx.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{lab.url}lab?reset&token={lab.token}")
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand("
                                   "'mltrack:open-explorer')", timeout=120_000)
            page.evaluate(_WAIT)
            close = '.lm-DockPanel-tabBar .lm-TabBar-tab[data-id="mltrack-explorer"] .lm-TabBar-tabCloseIcon'
            for _ in range(reps + 1):  # the first opening warms the browser's caches up: not recorded
                ms = page.evaluate(_OPEN_TABLE, [TABLE_PROJECT, n_table])
                out["table_first_paint_ms"].append(ms)
                out["scroll_middle_ms"].append(page.evaluate(_SCROLL, 0.5))
                out["scroll_end_ms"].append(page.evaluate(_SCROLL, 1.0))
                page.click(close)
                page.wait_for_selector("#mltrack-explorer", state="detached")
            for k in ("table_first_paint_ms", "scroll_middle_ms", "scroll_end_ms"):
                out[k] = out[k][1:]
            for rep in range(reps + 1):
                page.evaluate(_OPEN_TABLE, [CHART_PROJECT, n_chart])
                page.click('.jp-mltrack-explorer-tab[data-tab="metrics"]')
                page.fill(".jp-mltrack-explorer-maxruns", str(n_chart))
                page.select_option(".jp-mltrack-explorer-groupby", "params.optimizer")
                ms, fetched, requests = page.evaluate(_CHART, [n_chart, len(GROUPS)])
                t0 = page.evaluate("() => performance.now()")
                page.select_option(".jp-mltrack-explorer-band", "stderr")
                t1 = page.evaluate("() => window.__mltWait(() => true)")
                band = t1 - t0
                page.select_option(".jp-mltrack-explorer-groupby", "")
                t0 = page.evaluate("() => performance.now()")
                t1 = page.evaluate("""([n]) => window.__mltWait(() => {
                    const c = document.querySelector('.jp-mltrack-explorer-chart[data-metric="loss"]');
                    return c && c.dataset.groups === '0' && c.dataset.lines === String(n); }, 120000)""", [n_chart])
                lines = t1 - t0
                if rep:
                    out["chart_grouped_ms"].append(ms)
                    out["chart_grouped_fetch_ms"].append(fetched)
                    out["chart_grouped_requests"].append(requests)
                    out["band_redraw_ms"].append(band)
                    out["chart_lines_ms"].append(lines)
                page.click(close)
                page.wait_for_selector("#mltrack-explorer", state="detached")
        finally:
            browser.close()
    return out


def rows(n_table: int, n_chart: int, n_points: int) -> list[tuple[str, str, str, int | None]]:
    t, c, p = f"{n_table:,}", f"{n_chart:,}", f"{n_points:,}"
    return [
        ("E1", f"run table first paint, {t} runs × (20 params, 10 metrics): open the explorer → first rows painted",
         "table_first_paint_ms", 500),
        ("E2", f"scroll the {t}-run table to the middle → rows there painted", "scroll_middle_ms", None),
        ("E2′", "scroll it to the end → the last rows painted", "scroll_end_ms", None),
        ("E3", f"{c} runs × {p} points on one chart, grouped by a param (4 groups, min/max band): tick the metric "
         "→ painted", "chart_grouped_ms", 500),
        ("E3ᶠ", "of which the requests (run list + series, until the last answer's end)", "chart_grouped_fetch_ms",
         None),
        ("E3′", f"the same {c} runs, one line each (grouping removed → painted)", "chart_lines_ms", None),
        ("E4", "switch the band to standard error on the grouped chart → redrawn", "band_redraw_ms", None),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 table runs, 200 chart runs, 2 repetitions")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--markdown")
    ap.add_argument("--json", default=str(BENCH / "results" / "explorer-latest.json"))
    args = ap.parse_args()
    n_table, n_chart, n_points = (1_000, 200, 300) if args.quick else (10_000, 1_000, 1_000)
    reps = args.reps or (2 if args.quick else 5)
    base = Path(tempfile.mkdtemp(prefix="mltrack-bench-explorer-"))
    try:
        lab = launch_lab(base)
        try:
            store = lab.store()
            try:
                info = seed(store, n_table, n_chart, n_points)
            finally:
                store.close()
            figures = measure(lab, n_table, n_chart, reps)
        finally:
            stop_lab(lab)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    result = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": args.quick, "reps": reps,
              "sizes": {"table_runs": n_table, "chart_runs": n_chart, "points_per_run": n_points},
              "machine": machine_info(), "seed": info, "figures": figures,
              "medians": {k: statistics.median(v) for k, v in figures.items() if v}}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1))
    lines = ["| # | figure (ms, median; ↓ lower is better) | target | explorer | runs |", "|---|---|---|---|---|"]
    for rid, label, key, target in rows(n_table, n_chart, n_points):
        med = result["medians"].get(key)
        ok = "" if target is None or med is None else (" ✓" if med <= target else " ✗")
        runs = ", ".join(f"{x:.0f}" for x in figures.get(key, []))
        lines.append(f"| {rid} | {label} | {'≤ %d ms' % target if target else ''} | "
                     f"{'—' if med is None else f'{med:.0f} ms'}{ok} | {runs} |")
    table = "\n".join(lines)
    print(table)
    print(f"\nsizes {result['sizes']}, seeded in {info['seed_s']:.1f} s; load average {os.getloadavg()[0]:.2f}")
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")


if __name__ == "__main__":
    main()
