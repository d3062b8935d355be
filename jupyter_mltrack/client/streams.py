"""Printed output for the history snapshot on IPython 8, whose history keeps no outputs.

IPython 9 records every cell's outputs, streams included (``history_manager.outputs``), and ``history.ipynb`` is
built from them. IPython 8 (the newest for Python 3.10) records only results (``Out``), so the history dropped what
cells printed. There, :func:`install` tees ``sys.stdout``/``sys.stderr`` writes while a cell runs into
:data:`STREAMS` (by execution count), as IPython 9 does itself; ``client/notebook.history_cells`` reads them.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

#: Execution count → [(stream name, text)] of the cells run since the extension was loaded (IPython 8 only).
STREAMS: dict[int, list[list[str]]] = {}
#: At most this much text is kept per cell (the history caps outputs again when it writes them).
MAX_CELL_TEXT = 1_000_000


def records_streams(ip) -> bool:
    """Whether IPython's own history records a cell's outputs (IPython ≥ 9)."""
    return getattr(getattr(ip, "history_manager", None), "outputs", None) is not None


class StreamTee:
    """Around each cell: wrap the two streams' ``write`` to keep what the cell prints, filed under the cell's
    execution count when it ends (``post_run_cell``'s result names it: IPython versions differ on when the shell's
    counter moves)."""

    def __init__(self, ip) -> None:
        self.ip = ip
        self._saved: list[tuple[object, object | None]] = []
        self._parts: list[list[str]] = []

    def pre_run_cell(self, info=None) -> None:
        self._restore()
        parts: list[list[str]] = []
        self._parts = parts
        for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
            write = getattr(stream, "write", None)
            if write is None:
                continue

            def tee(data, *args, _write=write, _name=name, **kwargs):
                result = _write(data, *args, **kwargs)
                if self._shown_otherwise():  # a result or a display written by the shell: not a print
                    return result
                if isinstance(data, str) and data and sum(len(t) for _, t in parts) < MAX_CELL_TEXT:
                    if parts and parts[-1][0] == _name:
                        parts[-1][1] += data
                    else:
                        parts.append([_name, data])
                return result

            own = "write" in getattr(stream, "__dict__", {})  # an instance attribute already (someone's tee)
            try:
                stream.write = tee
            except (AttributeError, TypeError):  # a stream whose write cannot be replaced: left alone
                continue
            self._saved.append((stream, write if own else None))

    def _shown_otherwise(self) -> bool:
        ip = self.ip
        return bool(getattr(getattr(ip, "displayhook", None), "is_active", False)
                    or getattr(getattr(ip, "display_pub", None), "is_publishing", False)
                    or getattr(ip, "showing_traceback", False))

    def post_run_cell(self, result=None) -> None:
        self._restore()
        count = getattr(result, "execution_count", None)
        if count is not None and self._parts:
            STREAMS[count] = self._parts
        self._parts = []

    def _restore(self) -> None:
        while self._saved:
            stream, write = self._saved.pop()
            try:
                if write is None:
                    del stream.write  # the class's write again
                else:
                    stream.write = write
            except (AttributeError, TypeError):
                pass


_installed: dict[int, StreamTee] = {}


def install(ip) -> None:
    """Tee the streams around each cell of ``ip`` when its history does not record them (IPython 8)."""
    if ip is None or records_streams(ip) or id(ip) in _installed:
        return
    tee = _installed[id(ip)] = StreamTee(ip)
    ip.events.register("pre_run_cell", tee.pre_run_cell)
    ip.events.register("post_run_cell", tee.post_run_cell)


def uninstall(ip) -> None:
    tee = _installed.pop(id(ip), None)
    if tee is None:
        return
    tee.post_run_cell()  # the streams as they were
    for event in ("pre_run_cell", "post_run_cell"):
        try:
            ip.events.unregister(event, getattr(tee, event))
        except ValueError:
            pass


def recorded_streams(count: int) -> list:
    """The streams of ``In[count]`` in the shape of IPython 9's output history (``HistoryOutput``-like)."""
    return [SimpleNamespace(output_type="out_stream" if name == "stdout" else "err_stream", bundle={"stream": [text]})
            for name, text in STREAMS.get(count, ())]
