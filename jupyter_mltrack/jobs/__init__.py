"""Running jobs (``core/jobs.py`` defines them): the runner of one execution (``runner.py``), the notebook entry
point (``notebook.py``), where executions run (``executors.py``: local threads or a Dask cluster) and the scheduler
that fires cron ticks and hands queued executions to an executor (``scheduler.py``, run by the server extension)."""
