"""``python -m jupyter_mltrack.serving --port N [--host H] [--workers K]``: serve the spec in the environment
variable ``MLTRACK_SERVICE_SPEC`` (how the process manager starts a deployment)."""

from __future__ import annotations

import argparse
import os
import sys

from .runner import run_service
from .spec import SPEC_ENV, ServiceSpec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jupyter_mltrack.serving")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    text = os.environ.get(SPEC_ENV)
    if not text:
        print(f"{SPEC_ENV} holds no service spec", file=sys.stderr)
        return 2
    run_service(ServiceSpec.from_json(text), args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
