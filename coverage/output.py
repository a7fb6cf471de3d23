"""Deterministic output values shared by every writer (layers, targets, scenarios)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def json_scalar(value, digits: int = 6):
    """A JSON-ready scalar: NaN/NA as None, numpy numbers as Python ones, floats rounded
    to ``digits`` and integral floats as ints, so that outputs are byte-stable."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        value = round(value, digits)
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return value


#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV
#: Injection"): = + - @, and tab and carriage return, which some programs skip first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'``.

    Only text (object/string columns) is touched: numbers such as ``-3.5`` stay
    numbers. A cell that already starts with quotes before such a character gets one
    more, so :func:`restore_formulas` undoes it exactly when a download is read back.
    """
    text = [c for c in frame.columns
            if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype)]
    if not text:
        return frame
    frame = frame.copy()
    for column in text:
        frame[column] = frame[column].map(
            lambda v: "'" + v if _formula_like(v) else v)
    return frame


def restore_formulas(value):
    """The cell as it was before :func:`neutralise_formulas` (other values as they are)."""
    if isinstance(value, str) and value.startswith("'") and _formula_like(value[1:]):
        return value[1:]
    return value


def _formula_like(value) -> bool:
    # Quotes already in front are escaped too ("'=x" gets one more), so reading back
    # removes exactly the quote that writing added.
    return isinstance(value, str) and value.lstrip("'").startswith(FORMULA_STARTS)


def csv_text(frame: pd.DataFrame, **options) -> str:
    """A table as CSV text with a UTF-8 byte-order mark (Excel reads it as UTF-8),
    ``\\n`` line ends and formula-like text cells neutralised (:func:`neutralise_formulas`).

    ``options`` go to :meth:`pandas.DataFrame.to_csv` (``float_format`` …).
    """
    return "\ufeff" + neutralise_formulas(frame).to_csv(index=False, lineterminator="\n",
                                                          **options)
