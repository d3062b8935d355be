"""``RunTable`` — the runs of a project as a live, sortable, filterable table widget in the notebook.

Sorting, filtering and paging happen in the store (the search language, ``order_by``, ``limit``/``offset``): the
browser only ever receives one page, so 10,000 runs stay smooth. While displayed, the table polls the store's
revision once a second and reloads when anything was written. ``table.selected`` holds the ids of the ticked runs;
``table.selected_runs`` gives them as a DataFrame; pass the table to :func:`jupyter_mltrack.compare`.

Outside a live kernel (nbconvert, GitHub, VS Code without widgets) the output shows the static HTML table of the
page that was on screen.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path

import traitlets as t

from ..client.tracking import get_client
from ..core.errors import MLTrackError
from ..core.wire import cell_value
from .esm import esm
from .fallback import WithFallback
from .live import RevisionPoller

_STATIC = Path(__file__).parent / "static"
FIXED = ("name", "status", "start_time", "duration")
_POLL_SECONDS = 1.0


class RunTable(WithFallback):
    _esm = esm("run_table.js")
    _css = _STATIC / "widgets.css"
    _poller: RevisionPoller | None = None  # the live refresh thread, while displayed

    project = t.Unicode("").tag(sync=True)
    experiment = t.Unicode("").tag(sync=True)
    filter = t.Unicode("").tag(sync=True)
    order_by = t.Unicode("").tag(sync=True)
    page = t.Int(0).tag(sync=True)
    page_size = t.Int(25).tag(sync=True)
    columns = t.List(t.Unicode()).tag(sync=True)
    available_columns = t.List(t.Unicode()).tag(sync=True)
    rows = t.List(t.Dict()).tag(sync=True)
    total = t.Int(0).tag(sync=True)
    selected = t.List(t.Unicode()).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    live = t.Bool(True).tag(sync=True)
    revision = t.Unicode("").tag(sync=True)

    def __init__(self, project: str | None = None, experiment: str | None = None, filter: str | None = None,
                 order_by: str | None = None, columns: list[str] | None = None, page_size: int = 25,
                 live: bool = True, **kwargs):
        client = get_client()
        client.writer.flush(raise_errors=False)
        self._backend = client.backend
        self._lock = threading.RLock()
        self._explicit_columns = columns is not None
        super().__init__(project=project or "", experiment=experiment or "", filter=filter or "",
                         order_by=order_by or "", page_size=page_size, live=live,
                         columns=list(columns or []), **kwargs)
        self.observe(self._requery, names=["project", "experiment", "filter", "order_by", "page", "page_size"])
        self.observe(self._recolumn, names=["columns"])
        self.refresh()
        self._poller = RevisionPoller(self, self._backend, name="mltrack-runtable", interval=_POLL_SECONDS,
                                      loaded=lambda w: w.revision, reload=lambda w: w.refresh()) if live else None

    # -- queries ----------------------------------------------------------------------------------------------------

    def _scope(self) -> dict:
        return dict(project=self.project or None, experiment=self.experiment or None, filter=self.filter or None)

    def refresh(self) -> None:
        """Reload the page (and the column list) from the store."""
        with self._lock:
            try:
                rev = self._backend.revision()
                cols = self._backend.run_columns(**self._scope())
                available = list(FIXED) + ["run_id", "user", "experiments", "end_time"] + [
                    "params." + k for k in cols["params"]] + ["metrics." + k for k in cols["metrics"]] + [
                    "tags." + k for k in cols["tags"]]
                table = self._backend.run_table(**self._scope(), order_by=self.order_by or None,
                                                limit=self.page_size, offset=self.page * self.page_size)
            except MLTrackError as e:
                self.error = str(e)
                return
            total = table["total"]
            if self.page and self.page * self.page_size >= total:
                self.page = max(0, (total - 1) // self.page_size)  # observer reloads
                return
            shown = self.columns
            if not self._explicit_columns and not shown:
                shown = [c for c in available if c.startswith("params.")][:6] + [
                    c for c in available if c.startswith("metrics.")][:6]
            rows = _rows(table)
            with self.hold_sync():
                self.available_columns = available
                if shown != self.columns:
                    self._explicit_columns = True
                    self.columns = shown
                self.rows = rows
                self.total = total
                self.error = ""
                self.revision = rev

    def _requery(self, change) -> None:
        if change["name"] in ("filter", "project", "experiment", "page_size") and self.page:
            self.page = 0  # the observer on page reloads
            return
        self.refresh()

    def _recolumn(self, change) -> None:
        self._explicit_columns = True

    # -- selection --------------------------------------------------------------------------------------------------

    @property
    def selected_runs(self):
        """The ticked runs as a DataFrame (same columns as ``mlt.search_runs``)."""
        from ..client.frames import runs_dataframe

        if not self.selected:
            return runs_dataframe(self._backend.run_table(filter="id = '__none__'"))
        ids = ", ".join("'" + i.replace("'", "''") + "'" for i in self.selected)
        return runs_dataframe(self._backend.run_table(filter=f"id in ({ids})"))

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        super().close()

    # -- static fallback --------------------------------------------------------------------------------------------

    def to_html(self) -> str:
        cols = ["name", "status", "start_time"] + [c for c in self.columns if c not in ("name", "status", "start_time")]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = []
        for r in self.rows:
            cells = []
            for c in cols:
                v = r.get(c)
                if c in ("start_time", "end_time") and isinstance(v, (int, float)):
                    v = time.strftime("%Y-%m-%d %H:%M", time.localtime(v))
                elif isinstance(v, float):
                    v = f"{v:.4g}"
                cells.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        caption = (f"{self.total} run{'s' if self.total != 1 else ''}" + (f" matching {self.filter}" if self.filter else "")
                   + (f" — page {self.page + 1}" if self.total > self.page_size else ""))
        return (f'<table class="mltrack-static-table"><caption>{html.escape(caption)}</caption>'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")

    def static_html(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = f"RunTable({self.total} runs)"
        return bundle


def _rows(table: dict) -> list[dict]:
    cols = table["columns"]
    out = []
    for i, base in enumerate(table["base"]):
        row = dict(zip(cols, base))
        start, end, beat = row["start_time"], row["end_time"], row.pop("heartbeat_at")
        row["duration"] = ((end or beat or start) - start) if start is not None else None
        row["experiments"] = ", ".join(table["experiments"][i])
        for k, v in table["params"][i].items():
            row["params." + k] = cell_value(v)
        for k, v in table["metrics"][i].items():
            row["metrics." + k] = cell_value(v)
        for k, v in table["tags"][i].items():
            row["tags." + k] = v
        out.append(row)
    return out

