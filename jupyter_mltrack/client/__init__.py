"""The kernel-side client: the public tracking API, the writer and the notebook/environment capture."""
