"""``%%track_run`` and ``%mltrack`` — load with ``%load_ext jupyter_mltrack``.

``%%track_run`` opens a run, runs the cell, and always ends the run when the cell ends: ``finished``, ``failed``
with the traceback when the cell raises, ``killed`` on KeyboardInterrupt. The cell runs in the notebook's
namespace; its last expression is displayed as usual; errors show one traceback and stop "Run All" as usual.
"""

from __future__ import annotations

import ast
import json
import shlex
import sys
import traceback

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .core.errors import InvalidInput


def _kv(items: list[str] | None, what: str) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise InvalidInput(f"--{what} {item!r}: write key=value")
        k, v = item.split("=", 1)
        k = k.strip()
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def _parse(magic, line: str):
    """Parse magic options the way a shell would: quotes group words and are removed."""
    from IPython.core.error import UsageError

    try:
        words = shlex.split(line)
    except ValueError as e:
        raise UsageError(f"cannot read the options {line!r}: {e}") from None
    return magic.parser.parse_args(words)


@magics_class
class TrackingMagics(Magics):
    @magic_arguments()
    @argument("--name", "-n", help="run name (default: none; the sidebar shows the id)")
    @argument("--project", "-p", help="project (default: MLTRACK_PROJECT or 'Default')")
    @argument("--experiment", "-e", action="append", help="experiment name; repeat for several")
    @argument("--param", action="append", metavar="KEY=VALUE", help="param; the value is read as JSON if it can be")
    @argument("--tag", action="append", metavar="KEY=VALUE", help="tag")
    @argument("--campaign", action="append", help="campaign the run belongs to; repeatable")
    @argument("--description", "-d", default="", help="run description")
    @argument("--no-snapshot", action="store_true", help="do not store the notebook snapshot")
    @argument("--no-environment", action="store_true", help="do not capture the environment")
    @cell_magic
    def track_run(self, line: str, cell: str):
        """Run the cell as a tracked run. Inside, ``mlt.active_run()`` is the run; ``mlt.start_run()`` makes a
        child run."""
        from .client.fluent import start_run

        args = _parse(self.track_run, line)
        params = _kv(args.param, "param")
        tags = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in _kv(args.tag, "tag").items()}
        run = start_run(
            args.name, project=args.project, experiment=args.experiment, params=params, tags=tags,
            description=args.description, campaign=args.campaign,
            capture_environment=not args.no_environment,
        )
        status, error = "finished", None
        try:
            return self._run_cell(cell)
        except KeyboardInterrupt:
            status, error = "killed", "KeyboardInterrupt"
            raise
        except SystemExit as e:
            if e.code not in (None, 0):
                status, error = "failed", f"SystemExit({e.code!r})"
            raise
        except BaseException:
            status, error = "failed", traceback.format_exc()
            raise
        finally:
            try:
                if not args.no_snapshot:
                    run.snapshot(cell)
            except Exception as e:  # the snapshot must never hide the cell's own outcome
                print(f"jupyter_mltrack: could not snapshot the notebook: {e!r}", file=sys.stderr)
            run.end(status, error=error)

    def _run_cell(self, cell: str):
        shell = self.shell
        code = shell.transform_cell(cell)
        tree = ast.parse(code, filename="<track_run>")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        # register the source so tracebacks show the cell's lines
        try:
            filename = shell.compile.cache(code, shell.execution_count)
        except Exception:
            filename = "<track_run>"
        ns = shell.user_ns
        exec(compile(tree, filename, "exec"), ns)
        if last is not None:
            return eval(compile(last, filename, "eval"), ns)
        return None

    @line_magic
    def mltrack(self, line: str):
        """``%mltrack runs [FILTER]`` — the runs as a live table widget; ``%mltrack df [FILTER]`` — as a DataFrame;
        ``%mltrack compare ID ID …`` — compare runs; ``%mltrack uri`` — where runs are stored; ``%mltrack notebook PATH`` — name this kernel's notebook file;
        ``%mltrack flush``."""
        from .client.queries import search_runs
        from .client.tracking import flush, get_tracking_uri

        parts = line.strip().split(None, 1)
        cmd = parts[0] if parts else "help"
        rest = parts[1] if len(parts) > 1 else None
        if cmd == "runs":
            from .widgets.run_table import RunTable

            return RunTable(filter=rest)
        if cmd == "compare":
            from .widgets.compare import compare

            ids = (rest or "").split()
            if len(ids) < 2:
                print("usage: %mltrack compare RUN_ID RUN_ID [...]")
                return None
            return compare(ids)
        if cmd == "df":
            return search_runs(filter=rest)
        if cmd == "uri":
            return get_tracking_uri()
        if cmd == "notebook":
            from .client.notebook import find_notebook, set_notebook

            if not rest:
                return find_notebook()
            set_notebook(rest.strip().strip("'\""))
            return None
        if cmd == "flush":
            flush()
            return None
        print(self.mltrack.__doc__)
        return None


def load(ipython) -> None:
    ipython.register_magics(TrackingMagics)
