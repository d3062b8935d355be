// RunTable view: renders one page of runs; sorting, filtering and paging are done by the kernel (the store).

const FIELD_OK = /^[^\s()=!<>,`'"\[\]]+$/;

function sortField(column) {
  // column name in the table -> field of the search language
  if (column === "run_id") return "id";
  const m = column.match(/^(params|metrics|tags)\.(.*)$/);
  if (!m) return column;
  let name = m[2];
  let ctx = "";
  if (m[1] === "metrics") {
    const b = name.match(/^(.*)(\[[^\]]*\])$/);
    if (b) { name = b[1]; ctx = b[2]; }
  }
  return `${m[1]}.${FIELD_OK.test(name) ? name : "`" + name + "`"}${ctx}`;
}

function fmt(column, v) {
  if (v === null || v === undefined) return "";
  if (column === "start_time" || column === "end_time") {
    const d = new Date(v * 1000);
    return d.toLocaleString(undefined, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  }
  if (column === "duration") {
    if (v < 60) return `${v.toFixed(1)} s`;
    if (v < 3600) return `${(v / 60).toFixed(1)} min`;
    return `${(v / 3600).toFixed(1)} h`;
  }
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return String(v);
}


function render({ model, el: root }) {
  root.classList.add("mltrack-widget", "mltrack-run-table");
  const set = (k, v) => { model.set(k, v); model.save_changes(); };

  const filterInput = el("input", { type: "text", class: "mltrack-filter", placeholder: "filter, e.g. metrics.acc > 0.5 and params.optimizer = 'adam'" });
  filterInput.addEventListener("keydown", (e) => { if (e.key === "Enter") set("filter", filterInput.value.trim()); });
  const applyBtn = el("button", { class: "mltrack-apply", onclick: () => set("filter", filterInput.value.trim()) }, "Filter");
  const columnsBox = el("details", { class: "mltrack-columns" });
  const liveBox = el("input", { type: "checkbox", class: "mltrack-live", onchange: (e) => set("live", e.target.checked) });
  const status = el("span", { class: "mltrack-count" });
  const error = el("div", { class: "mltrack-error" });
  const table = el("table", { class: "mltrack-table" });
  const prev = el("button", { class: "mltrack-prev", onclick: () => set("page", Math.max(0, model.get("page") - 1)) }, "‹ Prev");
  const next = el("button", { class: "mltrack-next", onclick: () => set("page", model.get("page") + 1) }, "Next ›");
  const pager = el("div", { class: "mltrack-pager" }, prev, status, next);
  root.append(
    el("div", { class: "mltrack-toolbar" }, filterInput, applyBtn, columnsBox, el("label", {}, liveBox, " live")),
    error, el("div", { class: "mltrack-scroll" }, table), pager,
  );

  function currentSort() {
    const first = (model.get("order_by") || "").split(",")[0].trim();
    const m = first.match(/^(.*?)(?:\s+(asc|desc))?$/i);
    return m && m[1] ? { field: m[1], desc: (m[2] || "").toLowerCase() === "desc" } : { field: "start_time", desc: true };
  }

  function drawColumns() {
    const shown = new Set(model.get("columns"));
    columnsBox.replaceChildren(el("summary", {}, `Columns (${shown.size})`));
    const list = el("div", { class: "mltrack-column-list" });
    for (const c of model.get("available_columns")) {
      if (["name", "status", "start_time"].includes(c)) continue;
      const box = el("input", { type: "checkbox", "data-column": c, checked: shown.has(c) });
      box.addEventListener("change", () => {
        const now = new Set(model.get("columns"));
        box.checked ? now.add(c) : now.delete(c);
        const order = model.get("available_columns");
        set("columns", order.filter((x) => now.has(x)));
      });
      list.append(el("label", {}, box, " " + c));
    }
    columnsBox.append(list);
  }

  function drawTable() {
    const cols = ["name", "status", "start_time", ...model.get("columns").filter((c) => !["name", "status", "start_time"].includes(c))];
    const rows = model.get("rows");
    const selected = new Set(model.get("selected"));
    const sort = currentSort();
    const all = el("input", { type: "checkbox", class: "mltrack-select-page", title: "select this page" });
    all.checked = rows.length > 0 && rows.every((r) => selected.has(r.run_id));
    all.addEventListener("change", () => {
      const s = new Set(model.get("selected"));
      for (const r of rows) all.checked ? s.add(r.run_id) : s.delete(r.run_id);
      set("selected", [...s]);
    });
    const head = el("tr", {}, el("th", {}, all));
    for (const c of cols) {
      const field = sortField(c);
      const sortable = c !== "experiments";
      const mark = sort.field === field ? (sort.desc ? " ▼" : " ▲") : "";
      const th = el("th", { "data-column": c, class: sortable ? "mltrack-sortable" : "" }, c + mark);
      if (sortable) {
        th.addEventListener("click", () => {
          const desc = sort.field === field ? !sort.desc : !["name", "run_id", "user"].includes(c);
          set("order_by", `${field} ${desc ? "DESC" : "ASC"}`);
        });
      }
      head.append(th);
    }
    const body = el("tbody");
    for (const r of rows) {
      const box = el("input", { type: "checkbox", class: "mltrack-select", checked: selected.has(r.run_id) });
      box.addEventListener("change", () => {
        const s = new Set(model.get("selected"));
        box.checked ? s.add(r.run_id) : s.delete(r.run_id);
        set("selected", [...s]);
      });
      const tr = el("tr", { "data-run-id": r.run_id, class: selected.has(r.run_id) ? "mltrack-selected" : "" }, el("td", {}, box));
      for (const c of cols) {
        if (c === "status") {
          tr.append(el("td", {}, el("span", { class: `mltrack-badge mltrack-status-${r.status}`, "data-status": r.status }, r.status)));
        } else {
          tr.append(el("td", { "data-column": c, title: r[c] === undefined || r[c] === null ? "" : String(r[c]) }, fmt(c, r[c])));
        }
      }
      body.append(tr);
    }
    table.replaceChildren(el("thead", {}, head), body);
    const page = model.get("page"), size = model.get("page_size"), total = model.get("total");
    const from = total ? page * size + 1 : 0, to = Math.min(total, (page + 1) * size);
    status.textContent = `${from}–${to} of ${total} runs` + (selected.size ? ` · ${selected.size} selected` : "");
    prev.disabled = page <= 0;
    next.disabled = to >= total;
  }

  function drawError() {
    const msg = model.get("error");
    error.textContent = msg;
    error.style.display = msg ? "block" : "none";
  }

  filterInput.value = model.get("filter");
  liveBox.checked = model.get("live");
  drawColumns(); drawTable(); drawError();
  hideFallback(model, root);
  model.on("change:rows", drawTable);
  model.on("change:columns", () => { drawColumns(); drawTable(); });
  model.on("change:available_columns", drawColumns);
  model.on("change:selected", drawTable);
  model.on("change:total", drawTable);
  model.on("change:order_by", drawTable);
  model.on("change:error", drawError);
  model.on("change:filter", () => { if (document.activeElement !== filterInput) filterInput.value = model.get("filter"); });
}

export default { render };
