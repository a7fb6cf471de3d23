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
