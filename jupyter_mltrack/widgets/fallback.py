"""Every widget is shown as two outputs: its static rendering, then the live widget.

Viewers that cannot run the widget — nbconvert's HTML (with or without saved widget state: with it, nbconvert
shows only the widget view of an output that has one), GitHub, nbviewer — show the static output; a frontend that
draws the widget hides the static output once the view has drawn (``hideFallback`` in ``static/common.js``, matched
by ``fallback_id``). The static output is displayed first, so it is already in the page when the view draws.
"""

from __future__ import annotations

import html
import uuid

import anywidget
import traitlets as t


class WithFallback(anywidget.AnyWidget):
    """An anywidget whose display carries a static rendering (``static_html``) in an output of its own."""

    fallback_id = t.Unicode().tag(sync=True)

    @t.default("fallback_id")
    def _fallback_id(self) -> str:
        return uuid.uuid4().hex

    def static_html(self) -> str:  # pragma: no cover - every widget defines it
        raise NotImplementedError

    def fallback_bundle(self) -> dict:
        """The static output: the rendering wrapped in an element the view finds and hides."""
        return {"text/html": f'<div class="mltrack-fallback" data-mltrack-fallback="{html.escape(self.fallback_id)}">'
                             f"{self.static_html()}</div>"}

    def _ipython_display_(self, **kwargs) -> None:
        from IPython.display import display

        display(self.fallback_bundle(), raw=True)
        bundle = self._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        display(data, raw=True, metadata=metadata)
