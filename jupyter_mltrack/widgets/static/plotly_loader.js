// Shared by the chart widgets (prepended to their ESM by Python): plotly.js comes from the Jupyter server,
// never from the widget state, so saved notebooks stay small.

let plotlyPromise = null;

function baseUrl() {
  const cfg = document.getElementById("jupyter-config-data");
  if (cfg) {
    try { return (JSON.parse(cfg.textContent).baseUrl || "/").replace(/\/?$/, "/"); } catch (e) { /* fall through */ }
  }
  return "/";
}

function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyPromise) {
    plotlyPromise = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = baseUrl() + "mltrack/static/plotly.min.js";
      s.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly.js did not load")));
      s.onerror = () => { plotlyPromise = null; reject(new Error("could not load " + s.src)); };
      document.head.appendChild(s);
    });
  }
  return plotlyPromise;
}

