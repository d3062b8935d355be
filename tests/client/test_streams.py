"""What cells print reaches history.ipynb on IPython 8 too, whose history records no outputs: the extension tees the
streams around each cell (client/streams.py). Shown on a real IPython shell, its history read as IPython 8's is."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mltrack.client import notebook as N
from jupyter_mltrack.client import streams as S


@pytest.fixture
def shell(monkeypatch):
    monkeypatch.setattr(S, "STREAMS", {})
    existed = InteractiveShell.initialized()
    ip = InteractiveShell.instance()
    monkeypatch.setattr(S, "records_streams", lambda ip: False)  # as on IPython 8
    S.install(ip)
    yield ip
    S.uninstall(ip)
    if not existed:  # the next tests run outside IPython again
        InteractiveShell.clear_instance()


def _as_ipython8(ip):
    """The shell's history as IPython 8 has it: its cells and Out, no outputs."""
    hm = SimpleNamespace(get_range=ip.history_manager.get_range)
    return SimpleNamespace(user_ns=ip.user_ns, history_manager=hm)


def test_printed_output_is_kept_in_the_history_on_ipython_8(shell, capsys):
    start = shell.execution_count
    shell.run_cell("print('prepared', 100)", store_history=True)
    shell.run_cell("import sys\nprint('to stderr', file=sys.stderr)\nprint('a'); print('b')\n6 * 7", store_history=True)
    shell.run_cell("x = 1", store_history=True)
    assert "prepared 100" in capsys.readouterr().out  # printed as ever
    cells = {c["execution_count"]: c for c in N.history_cells(_as_ipython8(shell))}
    history = json.loads(N.history_notebook([cells[start], cells[start + 1], cells[start + 2]]))
    first, second, third = (c["outputs"] for c in history["cells"])
    assert first == [{"output_type": "stream", "name": "stdout", "text": "prepared 100\n"}]
    assert second == [{"output_type": "stream", "name": "stderr", "text": "to stderr\n"},
                      {"output_type": "stream", "name": "stdout", "text": "a\nb\n"},
                      {"output_type": "execute_result", "execution_count": start + 1,
                       "data": {"text/plain": "42"}, "metadata": {}}]
    assert third == []


def test_the_streams_are_left_as_they_were(shell):
    import sys

    shell.run_cell("print('x')", store_history=True)
    assert "write" not in vars(sys.stdout) or not getattr(sys.stdout.write, "__name__", "") == "tee"
    S.uninstall(shell)
    before = len(S.STREAMS)
    shell.run_cell("print('not kept')", store_history=True)
    assert len(S.STREAMS) == before
