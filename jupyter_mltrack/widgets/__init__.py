"""Notebook views over the same API: a live run table, metric charts and run comparison, each with a static
fallback in its output so exported or kernel-less notebooks still show something useful."""
