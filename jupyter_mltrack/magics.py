"""``%%track_run`` and ``%mltrack`` — load with ``%load_ext jupyter_mltrack``.

A ``%%track_run`` cell runs as the same cell would without its first line: IPython itself runs the body. An input
transformer (first of the shell's cleanup transformers) drops the ``%%track_run …`` line of a cell the kernel is
about to run, and the shell's ``pre_run_cell``/``post_run_cell`` events open the run before the body and end it
after — ``finished``, ``failed`` with the traceback when the cell raised, ``killed`` on KeyboardInterrupt. So the
body's display semantics are IPython's own: a trailing ``;`` hides the value, ``_``/``Out``/``In``, rich reprs,
tracebacks naming ``Cell In[N]`` with the body's line numbers and no frame of this module, top-level ``await``,
cell magics on the body's first line (``%%time``, ``%%capture``).

Inside another cell's execution (``%%time`` over ``%%track_run``, a nested ``run_cell``) the line is not dropped
and the cell magic runs the body itself.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import sys
import time
import traceback

from IPython.core.error import InputRejected
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .core.errors import InvalidInput

#: a cell whose first line (after blank lines) calls the tracking magic
_TRACKED = re.compile(r"\A(?:[ \t]*\r?\n)*%%track_run(?:[ \t][^\n]*)?(?:\n|\Z)")


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



def _run_code_file() -> str:
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.run_code.__code__.co_filename


def error_text(e: BaseException) -> str:
    """The traceback stored with a failed run: from the cell's own frames on (IPython's ``run_code`` left out)."""
    tb, skip = e.__traceback__, _run_code_file()
    while tb is not None and tb.tb_frame.f_code.co_filename == skip:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(e), e, tb))


def _outcome(err: BaseException | None) -> tuple[str, str | None]:
    if err is None:
        return "finished", None
    if isinstance(err, KeyboardInterrupt):
        return "killed", "KeyboardInterrupt"
    if isinstance(err, SystemExit):
        return ("finished", None) if err.code in (None, 0) else ("failed", f"SystemExit({err.code!r})")
    return "failed", error_text(err)


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
        run, args = self.open_run(line)
        err = None
        try:
            return self._run_cell(cell)
        except BaseException as e:
            err = e
            raise
        finally:
            count = getattr(self.shell.displayhook.exec_result, "execution_count", None)
            self.close_run(run, args, f"%%track_run {line}\n{cell}".replace("%%track_run \n", "%%track_run\n"),
                           _outcome(err), count)

    def options(self, line: str):
        """The parsed options of a ``%%track_run`` line (its text after the magic's name)."""
        return _parse(self.track_run, line)

    def open_run(self, line: str):
        """Start the run a ``%%track_run`` line asks for: (run, parsed options)."""
        from .client.fluent import start_run

        args = self.options(line)
        params = _kv(args.param, "param")
        tags = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in _kv(args.tag, "tag").items()}
        run = start_run(
            args.name, project=args.project, experiment=args.experiment, params=params, tags=tags,
            description=args.description, campaign=args.campaign,
            capture_environment=not args.no_environment,
        )
        return run, args

    def close_run(self, run, args, source: str, outcome: tuple[str, str | None], execution_count=None,
                  started: float | None = None) -> None:
        """Snapshot (the cell's source, magic line included) and end the run; never raises."""
        status, error = outcome
        try:
            if not args.no_snapshot:
                run.snapshot(source, execution_count=execution_count, started=started)
        except Exception as e:  # the snapshot must never hide the cell's own outcome
            print(f"jupyter_mltrack: could not snapshot the notebook: {e!r}", file=sys.stderr)
        try:
            run.end(status, error=error)
        except Exception as e:  # pragma: no cover - ending only appends to the writer
            print(f"jupyter_mltrack: could not end run {run.id}: {e!r}", file=sys.stderr)

    def _run_cell(self, cell: str):
        """The body of a ``%%track_run`` run by the magic itself (inside another cell's execution only)."""
        shell = self.shell
        code = shell.transform_cell(cell)
        tree = ast.parse(code, filename="<track_run>")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        count = getattr(shell.displayhook.exec_result, "execution_count", None) or shell.execution_count
        try:  # register the source so tracebacks show the cell's lines
            filename = shell.compile.cache(code, count)
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
        ``%mltrack jobs [PROJECT]`` — the jobs (schedule, next run, last status) as a DataFrame; ``%mltrack jobs run
        NAME`` — run one now; ``%mltrack jobs log NAME`` — its newest log; ``%mltrack flush``."""
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
        if cmd == "jobs":
            from .client import jobs

            words = (rest or "").split()
            if len(words) == 2 and words[0] == "run":
                return jobs.run_job(words[1])
            if len(words) == 2 and words[0] == "log":
                from .core.errors import NotFound

                try:
                    print(jobs.job_log(words[1]), end="")
                except NotFound as e:  # no run yet: say so, quietly
                    print(f"jupyter_mltrack: {e}")
                return None
            return jobs.jobs_frame(rest.strip() if rest else None)
        print(self.mltrack.__doc__)
        return None


class TrackedCells:
    """Runs the cells whose first line is ``%%track_run`` through IPython as if that line were not there, and
    opens and ends their runs around them (see the module's docstring)."""

    def __init__(self, shell, magics: TrackingMagics):
        self.shell = shell
        self.magics = magics
        self.depth = 0  # cells executing now (pre_execute … post_execute)
        self.open: list[tuple] = []  # (ExecutionInfo, run, options, start time) of the tracked cells executing now
        self.refused: BaseException | None = None  # why the run of the cell about to run could not start
        self.names: CellNames | None = None
        self.cost = 0.0  # CPU seconds this thread spent opening and closing tracked cells' runs

    def strip(self, lines: list[str]) -> list[str]:
        """Input transformer: a cell about to run whose first line is ``%%track_run …`` → its body. Options that do
        not parse leave the cell alone: the cell magic then says what is wrong."""
        if self.depth:
            return lines
        i = 0
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i == len(lines) or not _TRACKED.match(lines[i]):
            return lines
        options = lines[i].rstrip("\r\n")[len("%%track_run"):]
        if re.search(r"(?:^|\s)(?:-h|--help)(?:\s|$)", options):
            return lines
        try:
            self.magics.options(options)
        except (Exception, SystemExit):
            return lines
        return lines[i + 1:]

    def pre_execute(self) -> None:
        self.depth += 1

    def post_execute(self) -> None:
        self.depth = max(0, self.depth - 1)

    def pre_run_cell(self, info) -> None:
        self.refused = None
        raw = getattr(info, "raw_cell", None) or ""
        m = _TRACKED.match(raw)
        transformed = getattr(info, "transformed_cell", None)
        if m is None or transformed is None or "run_cell_magic('track_run'" in transformed:
            return  # not tracked, or the cell magic runs it
        line = m.group(0).strip()[len("%%track_run"):]
        t0 = time.thread_time()
        try:
            run, args = self.magics.open_run(line)
        except Exception as e:  # the body must not run untracked: refused before it runs (see Refuse)
            self.refused = e
            return
        finally:
            self.cost += time.thread_time() - t0
        self.open.append((info, run, args, time.time()))

    def post_run_cell(self, result) -> None:
        self.refused = None
        info = getattr(result, "info", None)
        count, cell_id = getattr(result, "execution_count", None), getattr(info, "cell_id", None)
        if count is not None and cell_id and getattr(info, "store_history", False):
            from .client.notebook import CELL_IDS

            CELL_IDS[count] = str(cell_id)
        if not self.open:
            return
        if result is not None and self.open[-1][0] is not info:
            return  # a cell run inside the tracked one
        info, run, args, started = self.open.pop()
        if result is None:  # the kernel cancelled the cell
            outcome = ("killed", "the cell was interrupted")
        else:
            outcome = _outcome(result.error_before_exec or result.error_in_exec)
        t0 = time.thread_time()
        self.magics.close_run(run, args, info.raw_cell, outcome, count, started)
        self.cost += time.thread_time() - t0

    def displayed(self, msg):
        """Display publisher hook (ipykernel): IPython's output history keeps streams and results but not what
        ``display()`` shows; keep it there too, under the cell that showed it, for snapshots."""
        try:
            if msg.get("msg_type") == "display_data":
                hm = self.shell.history_manager
                outputs = getattr(hm, "outputs", None)
                data = (msg.get("content") or {}).get("data") or {}
                if outputs is not None and data and sum(len(str(v)) for v in data.values()) < 4_000_000:
                    from IPython.core.history import HistoryOutput

                    er = self.shell.displayhook.exec_result
                    count = er.execution_count if er is not None else self.shell.execution_count - 1
                    outputs[count].append(HistoryOutput(output_type="display_data", bundle=dict(data)))
        except Exception:  # a snapshot aid: never in the way of the display itself
            pass
        return msg


class CellNames:
    """Wraps the shell compiler's ``get_code_name`` so a tracked cell's code is named after its body, as the same
    cell untracked is (ipykernel names a cell's file after a hash of its raw text; a SyntaxError quotes it)."""

    def __init__(self, compiler):
        self.compiler = compiler
        self.original = compiler.get_code_name

    def __call__(self, raw_code, transformed_code, number):
        m = _TRACKED.match(raw_code or "")
        if m is not None and "run_cell_magic('track_run'" not in (transformed_code or ""):
            raw_code = raw_code[m.end():]
        return self.original(raw_code, transformed_code, number)

    def install(self) -> None:
        self.compiler.get_code_name = self

    def remove(self) -> None:
        if self.compiler.__dict__.get("get_code_name") is self:
            del self.compiler.get_code_name


class Refuse(ast.NodeTransformer):
    """AST transformer: refuses a tracked cell whose run could not start, so its body never runs untracked."""

    def __init__(self, cells: TrackedCells):
        self.cells = cells

    def visit(self, node):
        e = self.cells.refused
        if e is None:
            return node
        self.cells.refused = None
        raise InputRejected(f"%%track_run could not start the run: {e}") from e


def load(ipython) -> None:
    unload(ipython)
    magics = TrackingMagics(ipython)
    ipython.register_magics(magics)
    cells = TrackedCells(ipython, magics)
    cells.names = CellNames(ipython.compile)
    cells.names.install()
    ipython.input_transformers_cleanup.insert(0, cells.strip)
    ipython.ast_transformers.append(Refuse(cells))
    for event in ("pre_execute", "post_execute", "pre_run_cell", "post_run_cell"):
        ipython.events.register(event, getattr(cells, event))
    if hasattr(ipython.display_pub, "register_hook"):
        ipython.display_pub.register_hook(cells.displayed)
    from .client.streams import install as keep_streams

    keep_streams(ipython)  # IPython 8: what cells print, for the history snapshot
    _loaded[id(ipython)] = cells


def unload(ipython) -> None:
    """Remove what :func:`load` installed (load calls it first, so ``%reload_ext`` never installs twice)."""
    cells = _loaded.pop(id(ipython), None)
    if cells is None:
        return
    cells.names.remove()
    from .client.streams import uninstall as forget_streams

    forget_streams(ipython)
    if hasattr(ipython.display_pub, "unregister_hook"):
        ipython.display_pub.unregister_hook(cells.displayed)
    if cells.strip in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(cells.strip)
    ipython.ast_transformers[:] = [t for t in ipython.ast_transformers
                                   if not (isinstance(t, Refuse) and t.cells is cells)]
    for event in ("pre_execute", "post_execute", "pre_run_cell", "post_run_cell"):
        try:
            ipython.events.unregister(event, getattr(cells, event))
        except ValueError:
            pass


_loaded: dict[int, TrackedCells] = {}


def loaded_cells(ipython) -> TrackedCells | None:
    """What :func:`load` installed in this shell (None when the extension is not loaded)."""
    return _loaded.get(id(ipython))
