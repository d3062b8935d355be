"""The jupyter_server extension: thin REST handlers over the store core (see docs/rest-api.md)."""
