"""The ``mltrack`` command: list runs, export reports, reclaim space, manage a team workspace (users, API keys,
project members) and jobs from a shell, serve a registered model over HTTP."""

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
    p_exp.add_argument("--plotly", choices=("cdn", "inline", "static"), default="cdn",
                       help="charts: plotly.js from its CDN (default, a light file), inline (~5 MB, offline) or "
                            "static (SVG images)")

    p_gc = sub.add_parser("gc", help="reclaim space: remove artifact files no artifact references and abandoned "
                                     "temporary uploads")
    p_gc.add_argument("--grace-hours", type=float, default=1.0,
                      help="keep what is younger than this (a writer may be about to reference it; default 1)")
    p_gc.add_argument("--dry-run", action="store_true", help="only say what would be removed")

    p_users = sub.add_parser("users", help="team mode: the store's users").add_subparsers(dest="action", required=True)
    p = p_users.add_parser("add", help="add a user")
    p.add_argument("name")
    p.add_argument("--admin", action="store_true", help="an admin: sees everything, manages users")
    p.add_argument("--email", default="")
    p_users.add_parser("list", help="list users")

    p_keys = sub.add_parser("keys", help="team mode: API keys").add_subparsers(dest="action", required=True)
    p = p_keys.add_parser("create", help="create an API key for USER and print it (once)")
    p.add_argument("user")
    p.add_argument("--name", default="", help="a label, e.g. the machine or job using it")
    p.add_argument("--expires", type=float, metavar="DAYS", help="valid for this many days (default: until revoked)")
    p = p_keys.add_parser("list", help="list a user's keys (never their secrets)")
    p.add_argument("user")
    p = p_keys.add_parser("revoke", help="revoke a key")
    p.add_argument("key_id", type=int)

    p_mem = sub.add_parser("members", help="team mode: project members").add_subparsers(dest="action", required=True)
    p = p_mem.add_parser("add", help="add USER to PROJECT with ROLE, or change their role")
    p.add_argument("project")
    p.add_argument("user")
    p.add_argument("role", choices=("owner", "contributor", "viewer"))
    p = p_mem.add_parser("list", help="list a project's members")
    p.add_argument("project")
    p = p_mem.add_parser("remove", help="remove USER from PROJECT")
    p.add_argument("project")
    p.add_argument("user")

    p_jobs = sub.add_parser("jobs", help="jobs: notebooks and scripts run as tracked runs, now, on a schedule, after "
                                         "other jobs").add_subparsers(dest="action", required=True)
    p = p_jobs.add_parser("create", help="define a job (or redefine the job of that name)")
    p.add_argument("name")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--notebook", help="a notebook, run with papermill (params: its 'parameters' cell's names)")
    what.add_argument("--script", help="a Python script (params as --key=value and MLTRACK_PARAMS)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter (VALUE read as JSON when it is JSON, else as text); repeat for more")
    p.add_argument("--schedule", default="", help="cron, five fields, e.g. \"0 2 * * *\"")
    p.add_argument("--timezone", default="UTC", help="the schedule's time zone (default UTC)")
    p.add_argument("--after", action="append", default=[], metavar="JOB", help="run after this job succeeded; "
                                                                                 "repeat for more")
    p.add_argument("--project")
    p.add_argument("--timeout", type=float, help="seconds: kill it past this")
    p.add_argument("--retries", type=int, default=0)
    p.add_argument("--retry-delay", type=float, default=10.0, help="seconds before the first retry (doubled next)")
    p.add_argument("--max-concurrent", type=int, default=1)
    p.add_argument("--paused", action="store_true")
    p = p_jobs.add_parser("list", help="list jobs: schedule, next run, last status")
    p.add_argument("--project")
    p = p_jobs.add_parser("run", help="run a job now (and the jobs after it)")
    p.add_argument("name")
    p.add_argument("--queue", action="store_true", help="only queue it for the server's scheduler (a database "
                   "store runs it here and waits, unless --queue)")
    for action, helptext in (("pause", "pause a job's schedule"), ("resume", "resume a job's schedule"),
                             ("delete", "delete a job"), ("logs", "print the log of a job's newest execution")):
        p_jobs.add_parser(action, help=helptext).add_argument("name")

    p = sub.add_parser("serve", help="serve a registered model over HTTP (POST /predict) under uvicorn")
    p.add_argument("model", help="the model reference: name@alias (house@champion), name@version or name")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1", help="the interface to listen on (default: loopback only)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    p.add_argument("--project", help="the model's project (default: the one project holding that model name)")
    p.add_argument("--name", help="the service's name (default: the model's name)")
    p.add_argument("--poll-interval", type=float, default=2.0,
                   help="seconds between looks at the store for an alias that moved (0: never)")

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
            path = export_report(runs, args.output, title=args.title, plotly=args.plotly)
            print(f"wrote {path} ({len(runs)} run{'s' if len(runs) != 1 else ''})")
            return 0
        if args.command == "gc":
            print(gc_summary(gc(grace_hours=args.grace_hours, dry_run=args.dry_run), args.grace_hours))
            return 0
        if args.command in ("users", "keys", "members"):
            return team_command(args)
        if args.command == "jobs":
            return jobs_command(args)
        if args.command == "serve":
            from .serving.runner import resolve_spec, run_service

            if args.workers < 1:
                parser.error("--workers must be at least 1")
            spec = resolve_spec(args.model, args.name, args.project, args.uri, poll_interval=args.poll_interval)
            run_service(spec, args.host, args.port, args.workers)
            return 0
    except MLTrackError as e:
        print(f"mltrack: {e}", file=sys.stderr)
        return 2
    return 1


def team_command(args) -> int:
    """``mltrack users|keys|members …``: on a database store as its administrator, through a server as the caller."""
    from .client import team

    a = (args.command, args.action)
    if a == ("users", "add"):
        u = team.add_user(args.name, args.admin, args.email)
        print(f"added user {u['name']}" + (" (admin)" if u["is_admin"] else ""))
    elif a == ("users", "list"):
        for u in team.list_users():
            print(f"{u['name']}{'  admin' if u['is_admin'] else ''}{'  ' + u['email'] if u['email'] else ''}")
    elif a == ("keys", "create"):
        k = team.create_key(args.user, args.name, args.expires)
        print(k["key"])
        print(f"API key {k['id']} for {k['user']}" + (f" ({k['label']})" if k["label"] else "")
              + (f", expires {_when(k['expires_at'])}" if k["expires_at"] else "")
              + ": shown once — keep it; send it as 'Authorization: Bearer <key>' or set MLTRACK_API_KEY",
              file=sys.stderr)
    elif a == ("keys", "list"):
        for k in team.list_keys(args.user):
            state = (f"revoked {_when(k['revoked_at'])}" if k["revoked_at"] else
                     f"expires {_when(k['expires_at'])}" if k["expires_at"] else "valid")
            used = f"last used {_when(k['last_used_at'])}" if k["last_used_at"] else "never used"
            print(f"{k['id']}\t{k['label'] or '-'}\tcreated {_when(k['created_at'])}\t{state}\t{used}")
    elif a == ("keys", "revoke"):
        k = team.revoke_key(args.key_id)
        print(f"revoked API key {k['id']} of {k['user']}")
    elif a == ("members", "add"):
        m = team.set_member(args.project, args.user, args.role)
        print(f"{m['user']} is {m['role']} of {m['project']}")
    elif a == ("members", "list"):
        for m in team.list_members(args.project):
            print(f"{m['user']}\t{m['role']}")
    elif a == ("members", "remove"):
        team.remove_member(args.project, args.user)
        print(f"removed {args.user} from {args.project}")
    return 0


def jobs_command(args) -> int:
    """``mltrack jobs …``: on a database store directly, through a server as the caller."""
    import json

    from .client import jobs
    from .client.tracking import get_client

    if args.action == "create":
        params = {}
        for kv in args.param:
            k, eq, v = kv.partition("=")
            if not eq:
                print(f"mltrack: --param {kv!r} is not KEY=VALUE", file=sys.stderr)
                return 2
            try:
                params[k] = json.loads(v)
            except ValueError:
                params[k] = v
        j = jobs.create_job(args.name, notebook=args.notebook, script=args.script, params=params,
                            schedule=args.schedule, timezone=args.timezone, after=args.after, project=args.project,
                            timeout=args.timeout, retries=args.retries, retry_delay=args.retry_delay,
                            max_concurrent=args.max_concurrent, paused=args.paused)
        print(f"defined job {j['name']} ({j['kind']} {j['path']})" + (
            f", next run {_when(j['next_run'])}" if j["next_run"] else ""))
    elif args.action == "list":
        rows = jobs.list_jobs(args.project)
        for j in rows:
            last = j["last"]
            print("\t".join([j["name"], j["project"], j["schedule"] or "-", j["timezone"],
                             "paused" if j["paused"] else (_when(j["next_run"]) if j["next_run"] else "-"),
                             last["status"] if last else "never run", ",".join(j["after"]) or "-"]))
        if not rows:
            print("no jobs")
    elif args.action == "run":
        here = not args.queue and get_client().backend.kind == "local"
        done = jobs.run_job(args.name, here=here)
        for e in done:
            print(f"{e['job']}\t{e['status']}" + (f"\trun {e['run_id']}" if e["run_id"] else "")
                  + (f"\t{e['reason'].splitlines()[0]}" if e["reason"] else ""))
        if here and any(e["status"] != "finished" for e in done):
            return 1
    elif args.action in ("pause", "resume"):
        j = (jobs.pause_job if args.action == "pause" else jobs.resume_job)(args.name)
        print(f"{j['name']} is {'paused' if j['paused'] else 'scheduled'}" + (
            f", next run {_when(j['next_run'])}" if j["next_run"] else ""))
    elif args.action == "delete":
        jobs.delete_job(args.name)
        print(f"deleted job {args.name}")
    elif args.action == "logs":
        sys.stdout.write(jobs.job_log(args.name))
    return 0


def _when(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


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
