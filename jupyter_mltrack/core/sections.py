"""The names of a batch's sections — a module of its own so that the kernel's writer, which only needs the names,
does not define the batch types (core/batch.py) on the way to a user's first ``start_run``."""

#: The sections of a batch, in the order the store applies them. ``heartbeat`` is a list of run ids, the others
#: lists of items; ``projects``, ``experiments``, ``campaigns``, ``models``, ``datasets``, ``aliases`` and ``stages`` are the
#: façade's own small writes (the registry's and the datasets').
SECTIONS = ("projects", "experiments", "campaigns", "runs", "params", "tags", "metrics", "artifacts", "figures", "inputs", "updates",
            "models", "datasets", "aliases", "stages", "heartbeat")
#: The sections whose items belong to one run (they carry ``run_id``; ``runs`` items carry ``id``).
RUN_SECTIONS = ("params", "tags", "metrics", "artifacts", "figures", "inputs", "updates")
#: The top-level keys of a batch: its id (client-generated, makes a repeated batch a no-op) and the sections.
BATCH_KEYS = ("id",) + SECTIONS
