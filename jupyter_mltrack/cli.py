"""The ``mltrack`` command: list runs and export reports from a shell."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mltrack", description="jupyter_mltrack from the command line")
    parser.add_argument("--uri", help="the store (default: MLTRACK_URI or ~/.mltrack/mltrack.db)")
    sub = parser.add_subparsers(dest="command", required=True)

    p_runs = sub.add_parser("runs", help="list runs")
    p_runs.add_argument("--project")
    p_runs.add_argument("--experiment")
    p_runs.add_argument("--filter", help="search language, e.g. \"metrics.acc > 0.5\"")
    p_runs.add_argument("--order-by")
    p_runs.add_argument("--max", type=int, default=50, help="at most this many runs (default 50)")
    p_runs.add_argument("--csv", action="store_true", help="print CSV with every column")

    p_exp = sub.add_parser("export", help="export runs to a standalone HTML report")
    p_exp.add_argument("runs", nargs="*", help="run ids (or use --filter)")
    p_exp.add_argument("-o", "--output", default="mltrack-report.html")
    p_exp.add_argument("--title")
    p_exp.add_argument("--project")
    p_exp.add_argument("--filter", help="export the runs matching this search")

    args = parser.parse_args(argv)
    from .client.queries import export_report, search_runs
    from .client.tracking import set_tracking_uri
    from .core.errors import MLTrackError

    try:
        if args.uri:
            set_tracking_uri(args.uri)
        if args.command == "runs":
            df = search_runs(project=args.project, experiment=args.experiment, filter=args.filter,
                               order_by=args.order_by, max_results=args.max)
            if args.csv:
                df.to_csv(sys.stdout, index=False)
            else:
                import pandas as pd

                cols = [c for c in df.columns if c in ("run_id", "name", "status", "start_time", "project")
                        or c.startswith("metrics.")][:10]
                with pd.option_context("display.width", 200, "display.max_columns", 20):
                    print(df[cols].to_string(index=False) if len(df) else "no runs")
            return 0
        if args.command == "export":
            runs = list(args.runs)
            if args.filter or args.project:
                df = search_runs(project=args.project, filter=args.filter)
                runs += [r for r in df["run_id"] if r not in runs]
            if not runs:
                parser.error("name run ids or give --filter/--project")
            path = export_report(runs, args.output, title=args.title)
            print(f"wrote {path} ({len(runs)} run{'s' if len(runs) != 1 else ''})")
            return 0
    except MLTrackError as e:
        print(f"mltrack: {e}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
