"""Live widgets: reload from a background thread when the store changed.

A displayed widget polls the store's ``revision()`` from a daemon thread, at most once per ``interval`` seconds, and
reloads only when it differs from the revision the widget last loaded. The thread holds the widget through a weak
reference only, so a widget that is closed (its ``comm`` gone) or garbage-collected ends it;
:meth:`RevisionPoller.stop` (called from the widget's ``close``) ends it at once. The training loop never waits for
it: the thread only reads, and an error (store busy, server away) is dropped — the next tick tries again.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable

WidgetFn = Callable[[Any], Any]


def _is_live(widget) -> bool:
    return widget.live


class RevisionPoller:
    """Reload ``widget`` whenever ``backend.revision()`` moves on, from a daemon thread named ``name``.

    The callables take the widget as their argument — pass functions or lambdas over it, never bound methods of the
    widget, which would keep it alive:

    - ``interval``: seconds between polls, or a function of the widget (read after every poll, e.g. a ``throttle``
      attribute the user may change);
    - ``loaded(w)``: the revision the widget shows now;
    - ``reload(w)``: load again (it records the new revision);
    - ``wanted(w)``: whether to poll at this tick at all (default: the widget's ``live`` trait).
    """

    def __init__(self, widget, backend, *, name: str, interval: float | WidgetFn, loaded: WidgetFn, reload: WidgetFn,
                 wanted: WidgetFn = _is_live):
        self._backend = backend
        self._interval = interval if callable(interval) else (lambda w, s=float(interval): s)
        self._loaded = loaded
        self._reload = reload
        self._wanted = wanted
        self._stop = threading.Event()
        threading.Thread(target=self._run, args=(weakref.ref(widget), self._interval(widget)), daemon=True,
                         name=name).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, ref, wait: float) -> None:
        while not self._stop.wait(wait):
            w = ref()
            if w is None or w.comm is None:
                return
            try:
                if self._wanted(w) and self._backend.revision() != self._loaded(w):
                    self._reload(w)
            except Exception:
                pass
            wait = self._interval(w)
            del w
