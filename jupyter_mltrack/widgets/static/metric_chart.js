// MetricChart view: plotly lines, one panel per metric. x-axis, log scale and smoothing are applied here; the
// kernel sends downsampled series and re-sends a step range in full detail when the user zooms.

function ema(values, alpha) {
  // exponential moving average with bias correction (the first points are not dragged towards 0)
  if (!alpha) return values;
  const out = new Array(values.length);
  let acc = 0, weight = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) { out[i] = v; continue; }
    acc = alpha * acc + (1 - alpha) * v;
    weight = alpha * weight + (1 - alpha);
    out[i] = acc / weight;
  }
  return out;
}

function xValues(tr, axis) {
  if (axis === "time") return tr.timestamps.map((t) => new Date(t * 1000));
  if (axis === "relative") return tr.timestamps.map((t) => t - tr.start_time);
  return tr.steps;
}


function render({ model, el: root }) {
  root.classList.add("mltrack-widget", "mltrack-metric-chart");
  const set = (k, v) => { model.set(k, v); model.save_changes(); };
  const axisSel = el("select", { class: "mltrack-x-axis" },
    el("option", { value: "step" }, "step"), el("option", { value: "time" }, "wall time"),
    el("option", { value: "relative" }, "relative time (s)"));
  axisSel.addEventListener("change", () => set("x_axis", axisSel.value));
  const logBox = el("input", { type: "checkbox", class: "mltrack-log" });
  logBox.addEventListener("change", () => set("log_y", logBox.checked));
  const smooth = el("input", { type: "range", min: "0", max: "0.99", step: "0.01", class: "mltrack-smoothing" });
  const smoothLabel = el("span", {});
  smooth.addEventListener("input", () => { smoothLabel.textContent = Number(smooth.value).toFixed(2); });
  smooth.addEventListener("change", () => set("smoothing", Number(smooth.value)));
  const colorSel = el("select", { class: "mltrack-color-by" });
  colorSel.addEventListener("change", () => set("color_by", colorSel.value));
  const liveBox = el("input", { type: "checkbox", class: "mltrack-live" });
  liveBox.addEventListener("change", () => set("live", liveBox.checked));
  const error = el("div", { class: "mltrack-error" });
  const plot = el("div", { class: "mltrack-chart-plot" });
  root.append(el("div", { class: "mltrack-chart-controls" },
    el("label", {}, "x: ", axisSel), el("label", {}, logBox, " log y"),
    el("label", {}, "smoothing ", smooth, " ", smoothLabel), el("label", {}, "colour by ", colorSel),
    el("label", {}, liveBox, " live")), error, plot);

  let Plotly = null;
  let ignoreRelayout = false;

  function figure() {
    const traces = model.get("traces");
    const metrics = [...new Set(traces.map((t) => t.metric))].sort();
    const axis = model.get("x_axis");
    const alpha = model.get("smoothing");
    const seen = new Set();
    const data = traces.map((tr) => {
      const i = metrics.indexOf(tr.metric) + 1;
      const showlegend = !seen.has(tr.group + tr.context);
      seen.add(tr.group + tr.context);
      const label = model.get("color_by") ? tr.group : tr.run;
      return {
        type: "scattergl", mode: tr.steps.length < 40 ? "lines+markers" : "lines",
        x: xValues(tr, axis), y: ema(tr.values, alpha),
        name: tr.context ? `${label} [${tr.context}]` : label, legendgroup: tr.group + tr.context, showlegend,
        line: { color: tr.color, dash: tr.dash, width: 1.6 },
        xaxis: i > 1 ? `x${i}` : "x", yaxis: i > 1 ? `y${i}` : "y",
        hovertemplate: `${tr.run} · ${tr.key}<br>%{x}: %{y:.4g}<extra></extra>`,
        meta: { run_id: tr.run_id, key: tr.key },
      };
    });
    const layout = {
      height: Math.max(280, 250 * metrics.length), margin: { l: 60, r: 20, t: model.get("title") ? 40 : 16, b: 40 },
      grid: { rows: Math.max(1, metrics.length), columns: 1, pattern: "independent" },
      legend: { orientation: "v" }, uirevision: "keep",
      title: model.get("title") ? { text: model.get("title") } : undefined,
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: getComputedStyle(root).getPropertyValue("--jp-ui-font-color1") || "#222" },
    };
    const xr = model.get("x_range");
    metrics.forEach((m, k) => {
      const s = k ? String(k + 1) : "";
      layout["yaxis" + s] = { title: { text: m }, type: model.get("log_y") ? "log" : "linear", gridcolor: "rgba(128,128,128,0.2)" };
      layout["xaxis" + s] = { title: { text: axis === "step" ? "step" : axis === "time" ? "time" : "seconds" },
        type: axis === "time" ? "date" : "linear", gridcolor: "rgba(128,128,128,0.2)",
        ...(xr.length === 2 && axis === "step" ? { range: xr } : {}) };
    });
    return { data, layout };
  }

  async function draw() {
    const msg = model.get("error");
    error.textContent = msg;
    error.style.display = msg ? "block" : "none";
    try {
      Plotly = Plotly || (await loadPlotly());
    } catch (e) {
      error.textContent = String(e.message || e) + " — showing nothing; the static figure is in the saved output.";
      error.style.display = "block";
      return;
    }
    const { data, layout } = figure();
    ignoreRelayout = true;
    await Plotly.react(plot, data, layout, { displaylogo: false, responsive: true });
    ignoreRelayout = false;
    plot.dataset.traces = String(data.length);
    plot.dataset.points = String(data.reduce((n, d) => n + d.x.length, 0));
    if (!plot._mltrackHooked) {
      plot._mltrackHooked = true;
      plot.on("plotly_relayout", (ev) => {
        if (ignoreRelayout || model.get("x_axis") !== "step") return;
        const lo = ev["xaxis.range[0]"], hi = ev["xaxis.range[1]"];
        if (lo !== undefined && hi !== undefined) set("x_range", [Math.floor(lo), Math.ceil(hi)]);
        else if (ev["xaxis.autorange"]) set("x_range", []);
      });
    }
  }

  function syncControls() {
    axisSel.value = model.get("x_axis");
    logBox.checked = model.get("log_y");
    smooth.value = String(model.get("smoothing"));
    smoothLabel.textContent = Number(model.get("smoothing")).toFixed(2);
    liveBox.checked = model.get("live");
    colorSel.replaceChildren(el("option", { value: "" }, "run"),
      ...model.get("color_options").map((o) => el("option", { value: o }, "params." + o)));
    colorSel.value = model.get("color_by");
  }

  let pending = null;
  const schedule = () => { if (!pending) pending = requestAnimationFrame(() => { pending = null; draw(); }); };
  syncControls();
  draw();
  hideFallback(model, root);
  for (const k of ["traces", "x_axis", "log_y", "smoothing", "error", "title"]) model.on(`change:${k}`, () => { syncControls(); schedule(); });
  model.on("change:color_options", syncControls);
  model.on("change:color_by", syncControls);
  model.on("change:live", syncControls);
  return () => { if (Plotly) Plotly.purge(plot); };
}

export default { render };
