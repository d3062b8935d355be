"""Standalone HTML reports of runs, from the API and the `mltrack` command."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat

from jupyter_mltrack.cli import main as cli_main


def _runs(R, tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('training with lr')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="training with lr\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# My experiment notebook"), cell]
    ids = []
    for lr in (0.1, 0.01):
        with R.start_run(f"lr-{lr}", project="Report", params={"lr": lr, "opt": "adam"}) as run:
            for i in range(30):
                run.log_metric("loss", 1.0 / (1 + lr * i), step=i, context={"subset": "train"})
            run.log_metric("acc", 0.5 + lr)
            run._log_bytes("notebook", "notebook", [("history.ipynb", nbformat.writes(nb).encode())],
                           metadata={"files": {"history.ipynb": "execution history"}})
        ids.append(run.id)
    return ids


def test_export_report_html(tracking, tmp_path):
    R = tracking
    ids = _runs(R, tmp_path)
    out = R.export_report(ids, tmp_path / "report.html", title="LR sweep")
    text = out.read_text()
    assert text.count("<title>LR sweep</title>") == 1
    assert text.count('class="plotly-graph-div"') == 1  # loss[subset=train]: acc, one value per run, is no chart
    assert "<td>acc</td><td>0.6</td>" in text  # … but a row of the run's metrics table
    assert "Plotly.newPlot" in text and 'src="https://cdn.plot.ly/plotly-' in text  # light: plotly.js from the CDN
    assert "loss[subset=train]" in text and "lr-0.1" in text and "lr-0.01" in text
    assert "<b>0.1</b>" in text  # the differing param is marked
    assert "My experiment notebook" in text and "training with lr" in text  # the snapshot, outputs included
    assert "Python" in text and "Packages" in text  # environment
    # a DataFrame from search_runs is accepted too
    out2 = R.export_report(R.search_runs(project="Report"), tmp_path / "all.html")
    assert out2.read_text().count('class="plotly-graph-div"') == 1


def test_light_inline_and_static_reports(tracking, tmp_path):
    """The default report loads plotly.js from its CDN (a light file); "inline" embeds it (offline, ~5 MB);
    "static" draws the charts as SVG images and holds no script."""
    import plotly.offline
    import pytest

    from jupyter_mltrack.core.errors import InvalidInput

    R = tracking
    ids = _runs(R, tmp_path)
    plotly_js = plotly.offline.get_plotlyjs()
    light = R.export_report(ids, tmp_path / "light.html")
    inline = R.export_report(ids, tmp_path / "inline.html", plotly="inline")
    static = R.export_report(ids, tmp_path / "static.html", plotly="static")
    sizes = {p.name: p.stat().st_size for p in (light, inline, static)}
    assert sizes["inline.html"] > len(plotly_js) > 4_000_000, sizes
    assert sizes["light.html"] < 1_000_000 and sizes["static.html"] < 1_000_000, sizes
    assert sizes["inline.html"] - sizes["light.html"] > 0.95 * len(plotly_js), sizes  # the bundle is the difference
    text = light.read_text()
    assert plotly_js[:2000] not in text
    assert "did not load (offline?)" in text  # what a chart says where plotly.js could not be loaded
    assert plotly_js[:2000] in inline.read_text()
    svg = static.read_text()
    assert svg.count("<svg") >= 1 and 'class="plotly-graph-div"' not in svg and "cdn.plot.ly" not in svg
    assert "loss[subset=train]" in svg and "lr-0.01" in svg  # the chart's title and the runs' legend
    with pytest.raises(InvalidInput, match="plotly must be one of cdn, inline, static"):
        R.export_report(ids, tmp_path / "x.html", plotly="svg")


def test_export_cli(tracking, store_dir, tmp_path, capsys):
    R = tracking
    ids = _runs(R, tmp_path)
    R.flush()
    code = cli_main(["--uri", str(store_dir), "export", ids[0], "-o", str(tmp_path / "one.html")])
    assert code == 0 and "wrote" in capsys.readouterr().out
    assert (tmp_path / "one.html").read_text().count('class="plotly-graph-div"') == 1
    code = cli_main(["--uri", str(store_dir), "export", "--filter", "params.lr < 0.05", "-o", str(tmp_path / "f.html")])
    assert code == 0 and "lr-0.01" in (tmp_path / "f.html").read_text()
    code = cli_main(["--uri", str(store_dir), "export", ids[0], "--plotly", "static", "-o", str(tmp_path / "s.html")])
    assert code == 0 and "<svg" in (tmp_path / "s.html").read_text()
    code = cli_main(["--uri", str(store_dir), "export", "nope", "-o", str(tmp_path / "x.html")])
    assert code == 2 and "no run" in capsys.readouterr().err


def test_runs_cli_in_a_subprocess(tracking, store_dir, tmp_path):
    R = tracking
    _runs(R, tmp_path)
    R.flush()
    r = subprocess.run([sys.executable, "-m", "jupyter_mltrack.cli", "--uri", str(store_dir), "runs", "--csv"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split(",")
    assert "params.lr" in header and len(r.stdout.splitlines()) == 3
    bad = subprocess.run([sys.executable, "-m", "jupyter_mltrack.cli", "--uri", str(store_dir), "runs",
                          "--filter", "metrics.acc >"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "search" in bad.stderr


def test_progress_bar_for_large_exports(tracking, tmp_path, capsys):
    R = tracking
    ids = []
    for i in range(25):
        with R.start_run(f"p{i}", capture_environment=False) as run:
            run.log_metric("m", i)
        ids.append(run.id)
    R.export_report(ids[:3], tmp_path / "small.html")
    said = capsys.readouterr()
    assert "exporting runs" not in said.err + said.out  # quiet for small exports
    R.export_report(ids, tmp_path / "big.html")
    said = capsys.readouterr()  # (tqdm.auto writes to stdout when an IPython shell exists in the process)
    assert "exporting runs" in said.err + said.out


def test_durations_read_in_ms_below_a_second():
    from jupyter_mltrack.report.export import duration_text

    assert [duration_text(s) for s in (0.0, 0.0424, 0.9994, 1.25, 75, 7384)] == \
        ["0 ms", "42 ms", "999 ms", "1.2 s", "1 min 15 s", "2 h 3 min"]


async def test_the_report_route_takes_the_plotly_mode(jp_fetch):
    import pytest
    from tornado.httpclient import HTTPClientError

    batch = {"runs": [{"id": "rep1", "project": "Report"}],
             "metrics": [{"run_id": "rep1", "name": "loss", "values": [3.0, 2.0, 1.0]}]}
    await jp_fetch("mltrack", "api", "batch", method="POST", body=json.dumps(batch))
    bodies = {}
    for mode in ("cdn", "static", None):
        params = {"runs": "rep1", **({"plotly": mode} if mode else {})}
        bodies[mode] = (await jp_fetch("mltrack", "api", "report", params=params)).body.decode()
    assert 'src="https://cdn.plot.ly/plotly-' in bodies["cdn"] and 'src="https://cdn.plot.ly/plotly-' in bodies[None]
    assert "<svg" in bodies["static"] and "cdn.plot.ly" not in bodies["static"]
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("mltrack", "api", "report", params={"runs": "rep1", "plotly": "png"})
    assert e.value.code == 400 and "'plotly' must be one of cdn, inline, static" in e.value.response.body.decode()
