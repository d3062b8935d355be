// Shared by every widget view (prepended to each ESM by Python).

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// The widget's static rendering is an output of its own, displayed just before the widget for viewers that cannot
// run it (widgets/fallback.py). Once this view has drawn, that output is hidden.
function hideFallback(model, root) {
  const id = model.get("fallback_id");
  if (!id) return;
  const doc = root.ownerDocument || document;
  for (const e of doc.querySelectorAll(`[data-mltrack-fallback="${CSS.escape(id)}"]`)) {
    (e.closest(".jp-OutputArea-child") || e).style.display = "none";
  }
}
