"""Model services: a registered model (or an A/B test of several) answering ``POST /predict`` over HTTP, in a process
of its own (Starlette under uvicorn). :mod:`.spec` describes a service, :mod:`.app` builds its ASGI app,
:mod:`.manager` starts and watches service processes for the server extension and embedded ``mlt.deploy``.

Nothing in this package imports Jupyter or tornado; the ASGI stack is imported only by :mod:`.app`.
"""
