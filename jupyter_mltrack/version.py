"""The package's version (written into ``_version.py`` by the build; a source tree without a build says 0.0.0.dev0)."""

try:
    from ._version import __version__
except ImportError:  # pragma: no cover - running from a source tree without a build
    __version__ = "0.0.0.dev0"
