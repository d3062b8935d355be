"""jupyter_mltrack/__init__.py: importing the package is cheap; the public names resolve lazily."""

from __future__ import annotations

import json

import pytest

HEAVY = ("pandas", "sqlalchemy", "numpy", "plotly", "ipywidgets", "alembic", "IPython", "requests", "nbformat",
         "zstandard", "tsdownsample", "jupyter_server")


def test_import_is_light(run_py):
    out = run_py(f"""
        import json, sys
        import jupyter_mltrack
        heavy = {list(HEAVY)!r}
        print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
    """).stdout
    assert json.loads(out) == []


def test_start_run_does_not_need_pandas(run_py, tmp_path):
    """Logging is the hot path: pandas is only for DataFrames, plotting libraries never."""
    out = run_py("""
        import json, sys
        import jupyter_mltrack as mlt
        mlt.set_tracking_uri(sys.argv[1])
        with mlt.start_run(capture_environment=False) as run:
            run.log_metric("m", 1.0)
        mlt.flush()
        print(json.dumps(sorted(m for m in ("pandas", "plotly", "ipywidgets") if m in sys.modules)))
    """, tmp_path / "store").stdout
    assert json.loads(out) == []


def test_load_ipython_extension_exists():
    import jupyter_mltrack

    assert callable(jupyter_mltrack.load_ipython_extension)
    assert "load_ipython_extension" in jupyter_mltrack.__all__


def test_load_ext_registers_the_magics(run_py):
    out = run_py("""
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "jupyter_mltrack")
        print("track_run" in ip.magics_manager.magics["cell"], "mltrack" in ip.magics_manager.magics["line"])
    """).stdout.split()
    assert out == ["True", "True"]


def test_every_public_name_resolves():
    import jupyter_mltrack

    for name in jupyter_mltrack.__all__:
        assert getattr(jupyter_mltrack, name) is not None, name
    assert set(dir(jupyter_mltrack)) == set(jupyter_mltrack.__all__)
    assert isinstance(jupyter_mltrack.__version__, str)
    assert issubclass(jupyter_mltrack.Conflict, jupyter_mltrack.MLTrackError)
    assert issubclass(jupyter_mltrack.InvalidInput, ValueError)
    assert issubclass(jupyter_mltrack.NotFound, KeyError)
    assert issubclass(jupyter_mltrack.WriterError, jupyter_mltrack.MLTrackError)


def test_unknown_attribute():
    import jupyter_mltrack

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        jupyter_mltrack.nope


def test_server_extension_points():
    import jupyter_mltrack

    assert jupyter_mltrack._jupyter_labextension_paths() == [{"src": "labextension", "dest": "jupyter-mltrack"}]
    (point,) = jupyter_mltrack._jupyter_server_extension_points()
    assert point["module"] == "jupyter_mltrack"
