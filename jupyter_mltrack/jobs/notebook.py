"""``python -m jupyter_mltrack.jobs.notebook NOTEBOOK OUTPUT PARAMS_JSON``: execute a notebook with papermill.

The parameters are injected after the notebook's ``parameters``-tagged cell (papermill's convention); every cell's
output is written to stdout as it comes (the job's log), and the executed notebook, outputs included, to OUTPUT —
also when a cell fails (papermill saves it after each cell). Exit status 1 when a cell raised.
"""

from __future__ import annotations

import json
import logging
import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, out, params = argv[0], argv[1], json.loads(argv[2])
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    import papermill as pm

    try:
        pm.execute_notebook(src, out, parameters=params, log_output=True, progress_bar=False,
                            cwd=os.path.dirname(os.path.abspath(src)))
    except pm.PapermillExecutionError as e:
        print(f"the notebook failed in cell {e.exec_count}: {e.ename}: {e.evalue}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
