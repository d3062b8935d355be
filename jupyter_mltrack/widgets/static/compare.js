// Compare view: a table of the runs (params that differ, the chosen metric, best run marked), the metric
// overlaid, parallel coordinates of params against the metric, and a param-vs-metric scatter.

function num(v) {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return null;
}

function show(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return String(v);
}

function dimension(label, values) {
  // numeric when every present value is a number, else categorical codes with their labels as ticks
  if (values.every((v) => v === null || v === undefined || num(v) !== null)) {
    return { label, values: values.map((v) => (num(v) === null ? NaN : num(v))) };
  }
  const cats = [...new Set(values.map(show))].sort();
  return { label, values: values.map((v) => cats.indexOf(show(v))), tickvals: cats.map((_, i) => i), ticktext: cats };
}

function render({ model, el: root }) {
  root.classList.add("mltrack-widget", "mltrack-compare");
  const set = (k, v) => { model.set(k, v); model.save_changes(); };
  const metricSel = el("select", { class: "mltrack-metric" });
  metricSel.addEventListener("change", () => set("metric", metricSel.value));
  const goalSel = el("select", { class: "mltrack-goal" }, el("option", { value: "max" }, "higher is better"),
    el("option", { value: "min" }, "lower is better"));
  goalSel.addEventListener("change", () => set("goal", goalSel.value));
  const diffBox = el("input", { type: "checkbox", class: "mltrack-diff-only" });
  diffBox.addEventListener("change", () => set("differences_only", diffBox.checked));
  const xSel = el("select", { class: "mltrack-param-x" });
  xSel.addEventListener("change", () => set("param_x", xSel.value));
  const summary = el("div", { class: "mltrack-compare-summary" });
  const error = el("div", { class: "mltrack-error" });
  const table = el("table", { class: "mltrack-table mltrack-compare-table" });
  const overlay = el("div", { class: "mltrack-plot mltrack-overlay" });
  const parcoords = el("div", { class: "mltrack-plot mltrack-parcoords" });
  const scatter = el("div", { class: "mltrack-plot mltrack-scatter" });
  root.append(
    el("div", { class: "mltrack-chart-controls" }, el("label", {}, "metric ", metricSel), goalSel,
      el("label", {}, diffBox, " differences only"), el("label", {}, "scatter x: params.", xSel)),
    error, summary, el("div", { class: "mltrack-scroll" }, table),
    el("div", { class: "mltrack-compare-plots" }, overlay, parcoords, scatter));

  let sortKey = null, sortDesc = false;

  function keys() {
    const diff = model.get("differing");
    return model.get("differences_only") && diff.length ? diff : model.get("params");
  }

  function drawControls() {
    metricSel.replaceChildren(...model.get("metrics").map((m) => el("option", { value: m }, m)));
    metricSel.value = model.get("metric");
    goalSel.value = model.get("goal");
    diffBox.checked = model.get("differences_only");
    xSel.replaceChildren(...model.get("params").map((p) => el("option", { value: p }, p)));
    xSel.value = model.get("param_x");
    const msg = model.get("error");
    error.textContent = msg;
    error.style.display = msg ? "block" : "none";
  }

  function drawTable() {
    const metric = model.get("metric"), best = model.get("best_run");
    const runs = [...model.get("runs")];
    if (sortKey) {
      const val = (r) => (sortKey === "__metric" ? r.metrics[metric] : r.params[sortKey]);
      runs.sort((a, b) => {
        const x = val(a), y = val(b);
        const c = num(x) !== null && num(y) !== null ? num(x) - num(y) : show(x).localeCompare(show(y));
        return sortDesc ? -c : c;
      });
    }
    const header = el("tr", {}, el("th", {}, "run"));
    const cols = [...keys().map((k) => [k, "params." + k]), ...(metric ? [["__metric", "metrics." + metric]] : [])];
    for (const [k, label] of cols) {
      const th = el("th", { class: "mltrack-sortable", "data-column": label }, label + (sortKey === k ? (sortDesc ? " ▼" : " ▲") : ""));
      th.addEventListener("click", () => { sortDesc = sortKey === k ? !sortDesc : false; sortKey = k; drawTable(); });
      header.append(th);
    }
    const body = el("tbody");
    for (const r of runs) {
      const tr = el("tr", { "data-run-id": r.run_id, class: r.run_id === best ? "mltrack-best" : "" },
        el("td", {}, el("span", { class: "mltrack-swatch", style: `background:${r.color}` }), " ", r.name));
      for (const [k] of cols) tr.append(el("td", {}, show(k === "__metric" ? r.metrics[metric] : r.params[k])));
      body.append(tr);
    }
    table.replaceChildren(el("thead", {}, header), body);
    const bestRun = runs.find((r) => r.run_id === best);
    summary.textContent = `${runs.length} runs` + (bestRun ? ` · best by ${model.get("goal")} ${metric}: ${bestRun.name} (${show(bestRun.metrics[metric])})` : "")
      + (model.get("differences_only") ? ` · ${model.get("differing").length} of ${model.get("params").length} params differ` : "");
  }

  // Parallel coordinates draw their axis labels above the plot area: a taller top margin, and the title pinned to
  // the top of the figure, keep the title clear of them.
  const PARCOORDS_TOP = 90;
  function parcoordsLayout(base, text) {
    return { ...base, height: base.height + 40, margin: { ...base.margin, t: PARCOORDS_TOP },
      title: { text, yref: "container", y: 1, yanchor: "top", pad: { t: 8 } } };
  }

  async function drawPlots() {
    let Plotly;
    try { Plotly = await loadPlotly(); } catch (e) { error.textContent = String(e.message || e); error.style.display = "block"; return; }
    const metric = model.get("metric"), best = model.get("best_run"), runs = model.get("runs");
    const base = { margin: { l: 60, r: 20, t: 36, b: 40 }, height: 320, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: getComputedStyle(root).getPropertyValue("--jp-ui-font-color1") || "#222" } };
    const lines = model.get("overlay").map((s) => ({
      type: "scattergl", mode: s.steps.length < 40 ? "lines+markers" : "lines", x: s.steps, y: s.values, name: s.name,
      line: { color: s.color, width: s.run_id === best ? 3.5 : 1.2 }, opacity: best && s.run_id !== best ? 0.6 : 1,
      showlegend: runs.length <= 20,
    }));
    await Plotly.react(overlay, lines, { ...base, title: { text: metric ? `${metric} by step` : "no metric" }, xaxis: { title: { text: "step" } } },
      { displaylogo: false, responsive: true });
    overlay.dataset.traces = String(lines.length);
    const dims = keys().map((k) => dimension("params." + k, runs.map((r) => r.params[k])));
    if (metric) dims.push({ label: metric, values: runs.map((r) => { const v = num(r.metrics[metric]); return v === null ? NaN : v; }) });
    const colour = runs.map((r) => num(r.metrics[metric]));
    await Plotly.react(parcoords, dims.length ? [{
      type: "parcoords", dimensions: dims,
      line: { color: colour.map((v) => (v === null ? 0 : v)), colorscale: "Viridis", showscale: true,
        reversescale: model.get("goal") === "min" },
    }] : [], parcoordsLayout(base, "params against " + (metric || "metric")), { displaylogo: false, responsive: true });
    parcoords.dataset.dimensions = String(dims.length);
    const px = model.get("param_x");
    const xs = runs.map((r) => r.params[px]);
    const numeric = xs.every((v) => v === null || v === undefined || num(v) !== null);
    await Plotly.react(scatter, [{
      type: "scatter", mode: "markers", x: xs.map((v) => (numeric ? num(v) : show(v))), y: runs.map((r) => num(r.metrics[metric])),
      text: runs.map((r) => r.name), hovertemplate: "%{text}<br>%{x}: %{y:.4g}<extra></extra>",
      marker: { size: runs.map((r) => (r.run_id === best ? 16 : 9)), color: runs.map((r) => r.color),
        line: { width: runs.map((r) => (r.run_id === best ? 2 : 0)), color: "#000" } },
    }], { ...base, title: { text: `${metric} vs params.${px}` }, xaxis: { title: { text: "params." + px }, type: numeric ? "-" : "category" },
      yaxis: { title: { text: metric } } }, { displaylogo: false, responsive: true });
    scatter.dataset.points = String(runs.length);
  }

  let pending = null;
  const redraw = () => { drawControls(); drawTable(); if (!pending) pending = requestAnimationFrame(() => { pending = null; drawPlots(); }); };
  redraw();
  hideFallback(model, root);
  for (const k of ["runs", "metric", "goal", "differences_only", "param_x", "best_run", "overlay", "error", "params", "differing", "metrics"]) {
    model.on(`change:${k}`, redraw);
  }
}

export default { render };
