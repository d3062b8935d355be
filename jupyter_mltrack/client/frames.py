"""Run DataFrames: built from the store's columnar run table (``Store.run_table``) or its packed numeric columns
(``Store.run_frame``)."""

from __future__ import annotations

from ..core.wire import gc_paused


def runs_dataframe(table: dict):
    """Build the run DataFrame from :meth:`Store.run_table`'s columnar material."""
    with gc_paused():
        return _runs_dataframe(table)


def _runs_dataframe(table: dict):
    import numpy as np
    import pandas as pd

    base = pd.DataFrame.from_records(table["base"], columns=list(table["columns"]))
    start = base["start_time"].to_numpy(dtype="float64", na_value=np.nan)
    end = base["end_time"].to_numpy(dtype="float64", na_value=np.nan)
    beat = base["heartbeat_at"].to_numpy(dtype="float64", na_value=np.nan)
    last_seen = np.where(np.isnan(end), np.where(np.isnan(beat), start, beat), end)
    df = pd.DataFrame({
        "run_id": base["run_id"],
        "name": base["name"],
        "status": base["status"],
        "start_time": pd.to_datetime(start, unit="s", utc=True),
        "end_time": pd.to_datetime(end, unit="s", utc=True),
        "duration": last_seen - start,
        "project": base["project"],
        "experiments": pd.Series(table["experiments"], dtype=object),
        "user": base["user"],
        "parent_id": base["parent_id"],
        "source": base["source"],
    })
    if "numeric" in table:  # Store.run_frame: numbers arrive as arrays
        return _frame_with_arrays(df, table)
    parts = [df]
    for prefix, dicts, numeric in (("params.", table["params"], False), ("metrics.", table["metrics"], True),
                                   ("tags.", table["tags"], False)):
        if not any(dicts):
            continue
        frame = pd.DataFrame.from_records(dicts, index=df.index) if len(dicts) else pd.DataFrame(index=df.index)
        frame = frame[sorted(frame.columns)]
        if numeric:  # non-finite values arrive as "NaN", "Infinity", "-Infinity" (older stores: NaN as None)
            for c in frame.columns:
                if frame[c].dtype == object:
                    frame[c] = pd.to_numeric(frame[c], errors="coerce")
            frame = frame.astype("float64")
        frame.columns = [prefix + c for c in frame.columns]
        parts.append(frame)
    return pd.concat(parts, axis=1) if len(parts) > 1 else df


def _frame_with_arrays(df, table: dict):
    """The run DataFrame from :meth:`Store.run_frame`: numeric params and metrics as given arrays, the other params
    and tags from their dicts (pandas infers those columns), columns ordered as the dict path orders them."""
    import numpy as np
    import pandas as pd

    numeric = table["numeric"]
    text = {}
    for prefix, dicts in (("params.", table["params"]), ("tags.", table["tags"])):
        if any(dicts):
            frame = pd.DataFrame.from_records(dicts, index=df.index)
            text.update({prefix + c: frame[c] for c in frame.columns})
    columns = {}
    rank = {"params": 0, "metrics": 1, "tags": 2}
    for name in sorted(set(numeric) | set(text), key=lambda c: (rank[c.split(".", 1)[0]], c.split(".", 1)[1])):
        if name in numeric and name in text:  # numbers in some runs, other values in others: pandas infers
            key, nums = name.split(".", 1)[1], numeric[name]
            have = ~np.isnan(nums) if nums.dtype.kind == "f" else np.ones(len(nums), bool)
            values = [d[key] if key in d else (nums[i].item() if have[i] else np.nan)
                      for i, d in enumerate(table["params"])]
            columns[name] = pd.Series(values, index=df.index)
        else:
            columns[name] = numeric[name] if name in numeric else text[name]
    extra = pd.DataFrame(columns, index=df.index, copy=False)
    return pd.concat([df, extra], axis=1) if columns else df
