"""The ``mltrack`` command: list runs, export reports and reclaim space from a shell."""

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

    p_gc = sub.add_parser("gc", help="reclaim space: remove artifact files no artifact references and abandoned "
                                     "temporary uploads")
    p_gc.add_argument("--grace-hours", type=float, default=1.0,
                      help="keep what is younger than this (a writer may be about to reference it; default 1)")
    p_gc.add_argument("--dry-run", action="store_true", help="only say what would be removed")

    args = parser.parse_args(argv)
    from .client.queries import export_report, gc, search_runs
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
        if args.command == "gc":
            print(gc_summary(gc(grace_hours=args.grace_hours, dry_run=args.dry_run), args.grace_hours))
            return 0
    except MLTrackError as e:
        print(f"mltrack: {e}", file=sys.stderr)
        return 2
    return 1


def gc_summary(report: dict, grace_hours: float) -> str:
    """``mltrack gc``'s answer: "removed 188 blobs (564.0 MiB) and 1 temporary file (3.0 MiB)"."""
    def count(n: int, what: str) -> str:
        return f"{n} {what}{'' if n == 1 else 's'}"

    verb = "would remove" if report["dry_run"] else "removed"
    out = (f"{verb} {count(report['blobs_removed'], 'blob')} ({human_bytes(report['bytes_freed'])}) and "
           f"{count(report['temp_files_removed'], 'temporary file')} ({human_bytes(report['temp_bytes_freed'])})")
    if report["blobs_kept_young"]:
        out += (f"; kept {count(report['blobs_kept_young'], 'unreferenced blob')} younger than {grace_hours:g} "
                f"hour{'' if grace_hours == 1 else 's'}")
    return out


def human_bytes(n: float) -> str:
    """1536 → "1.5 KiB"; below 1 KiB, "512 B"."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n, i = n / 1024, i + 1
    return f"{n:.0f} B" if i == 0 else f"{n:.1f} {units[i]}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
