"""A predict request's ``inputs`` turned into what the model takes, every mistake a :class:`BadInput` naming the
field or the column.

``inputs`` is records (``[{"sqft": 80, "rooms": 3}, …]``), columns (``{"sqft": [80, 95], "rooms": [3, 4]}``) or rows
of values in the model's feature order (``[[80, 3], …]``). The columns a model needs are its ``feature_names_in_``
(scikit-learn estimators fitted on a DataFrame); a model without them takes the columns in the order the request
gives them. A model that accepts a numeric array (:attr:`ModelInfo.numeric`, probed once when it is loaded) gets a
float64 NumPy array — no pandas per request; a model that does not (a pipeline encoding text columns, say) gets a
pandas DataFrame of the named columns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InvalidInput


class BadInput(InvalidInput):
    """The request's inputs cannot be fed to the model; ``field`` names the field or column (``inputs[2].sqft``)."""

    def __init__(self, message: str, field: str = "inputs", status: int = 400):
        super().__init__(message)
        self.field = field
        self.status = status


@dataclass
class ModelInfo:
    """What the service knows of a loaded model's input: the columns it needs (None: any, in the request's order),
    how many features (None: unknown) and whether it takes a numeric array."""

    columns: list[str] | None
    n_features: int | None
    numeric: bool


def model_info(model: Any) -> ModelInfo:
    """Probe ``model`` once: its feature names and count, and whether it predicts on a float64 array of zeros."""
    names = getattr(model, "feature_names_in_", None)
    columns = [str(c) for c in names] if names is not None else None
    n = getattr(model, "n_features_in_", None)
    n = int(n) if isinstance(n, (int, np.integer)) else (len(columns) if columns else None)
    numeric = False
    if n is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.predict(np.zeros((1, n)))
            numeric = True
        except Exception:  # any failure: the model needs named (or typed) columns; it gets a DataFrame
            numeric = False
    return ModelInfo(columns, n, numeric)


def _is_value(v: Any) -> bool:
    return v is None or isinstance(v, (int, float, str, bool))


def parse_inputs(inputs: Any, info: ModelInfo, max_rows: int) -> tuple[Any, int]:
    """``inputs`` as the model's X (a float64 array or a DataFrame) and its number of rows."""
    if isinstance(inputs, list):
        if len(inputs) > max_rows:
            raise BadInput(f"inputs holds {len(inputs)} rows; the limit is {max_rows}", "inputs", 413)
        if not inputs:
            raise BadInput("inputs must not be empty: give records [{column: value, …}, …] or columns "
                           "{column: [values…], …}")
        first = inputs[0]
        if isinstance(first, dict):
            return _records(inputs, info), len(inputs)
        if isinstance(first, list):
            return _rows(inputs, info), len(inputs)
        raise BadInput(f"inputs[0] must be a record (an object of column → value), not {type(first).__name__}",
                       "inputs[0]")
    if isinstance(inputs, dict):
        return _columns(inputs, info, max_rows)
    raise BadInput("inputs must be records [{column: value, …}, …] or columns {column: [values…], …}, not "
                   f"{type(inputs).__name__}")


def _numeric_culprit(values: Any, field: str) -> BadInput:
    for i, v in enumerate(values):
        if not (v is None or isinstance(v, (int, float))):
            return BadInput(f"{field}: expected a number, got {v!r:.60}", field)
    return BadInput(f"{field}: expected numbers", field)


def _records(records: list, info: ModelInfo) -> Any:
    cols = info.columns if info.columns is not None else [str(k) for k in records[0]]
    if info.columns is None and info.n_features is not None and len(cols) != info.n_features:
        raise BadInput(f"inputs[0] has {len(cols)} columns; the model takes {info.n_features}", "inputs[0]")
    try:
        rows = [[r[c] for c in cols] for r in records]
    except (KeyError, TypeError):
        for i, r in enumerate(records):
            if not isinstance(r, dict):
                raise BadInput(f"inputs[{i}] must be a record (an object of column → value), not "
                               f"{type(r).__name__}", f"inputs[{i}]") from None
            for c in cols:
                if c not in r:
                    raise BadInput(f"inputs[{i}]: missing column {c!r} (the model takes {', '.join(cols)})",
                                   c) from None
        raise
    if info.numeric:
        try:
            return np.array(rows, dtype=np.float64)
        except (TypeError, ValueError):
            for j, c in enumerate(cols):
                for i, row in enumerate(rows):
                    v = row[j]
                    if not (v is None or isinstance(v, (int, float))):
                        raise BadInput(f"column {c!r} (inputs[{i}]): expected a number, got {v!r:.60}",
                                       c) from None
            raise BadInput("inputs: values must be numbers") from None
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if not _is_value(v):
                raise BadInput(f"column {cols[j]!r} (inputs[{i}]): expected a number or a string, got "
                               f"{type(v).__name__}", cols[j])
    import pandas as pd

    return pd.DataFrame(rows, columns=cols)


def _rows(rows: list, info: ModelInfo) -> Any:
    n = info.n_features
    for i, r in enumerate(rows):
        if not isinstance(r, list):
            raise BadInput(f"inputs[{i}] must be a list of values like inputs[0], not {type(r).__name__}",
                           f"inputs[{i}]")
        if n is not None and len(r) != n:
            raise BadInput(f"inputs[{i}] has {len(r)} values; the model takes {n}"
                           + (f" ({', '.join(info.columns)})" if info.columns else ""), f"inputs[{i}]")
    if info.columns is not None and not info.numeric:
        import pandas as pd

        return pd.DataFrame(rows, columns=info.columns)
    try:
        return np.array(rows, dtype=np.float64)
    except (TypeError, ValueError):
        for i, r in enumerate(rows):
            for j, v in enumerate(r):
                if not (v is None or isinstance(v, (int, float))):
                    name = info.columns[j] if info.columns else f"inputs[{i}][{j}]"
                    raise BadInput(f"column {name!r} (inputs[{i}]): expected a number, got {v!r:.60}", name) from None
        raise BadInput("inputs: rows must all have the same number of values") from None


def _columns(columns: dict, info: ModelInfo, max_rows: int) -> tuple[Any, int]:
    cols = info.columns if info.columns is not None else [str(k) for k in columns]
    if not cols:
        raise BadInput("inputs must not be empty: give columns {column: [values…], …}")
    if info.columns is None and info.n_features is not None and len(cols) != info.n_features:
        raise BadInput(f"inputs has {len(cols)} columns; the model takes {info.n_features}")
    n = None
    for c in cols:
        if c not in columns:
            raise BadInput(f"inputs: missing column {c!r} (the model takes {', '.join(cols)})", c)
        v = columns[c]
        if not isinstance(v, list):
            raise BadInput(f"column {c!r} must be a list of values, not {type(v).__name__}", c)
        if n is None:
            n = len(v)
            if n > max_rows:
                raise BadInput(f"inputs holds {n} rows; the limit is {max_rows}", "inputs", 413)
            if n == 0:
                raise BadInput(f"column {c!r} is empty: give at least one row", c)
        elif len(v) != n:
            raise BadInput(f"column {c!r} has {len(v)} values; column {cols[0]!r} has {n}", c)
    if info.numeric:
        try:
            return np.array([columns[c] for c in cols], dtype=np.float64).T, n or 0
        except (TypeError, ValueError):
            for c in cols:
                try:
                    np.array(columns[c], dtype=np.float64)
                except (TypeError, ValueError):
                    raise _numeric_culprit(columns[c], c) from None
            raise BadInput("inputs: values must be numbers") from None
    for c in cols:
        for i, v in enumerate(columns[c]):
            if not _is_value(v):
                raise BadInput(f"column {c!r} (row {i}): expected a number or a string, got {type(v).__name__}", c)
    import pandas as pd

    return pd.DataFrame({c: columns[c] for c in cols}, columns=cols), n or 0


def predictions_list(pred: Any) -> list:
    """A model's answer as a JSON-ready list (NumPy scalars and arrays become Python values; NaN stays NaN)."""
    if isinstance(pred, np.ndarray):
        return pred.tolist()
    if hasattr(pred, "to_numpy"):  # a pandas Series or DataFrame
        return pred.to_numpy().tolist()
    return np.asarray(pred).tolist()
