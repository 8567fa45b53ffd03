"""Row keys that match however pandas stored the values (a store's frame, a summary of it, a config's row)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd


def plain(value):
    """None for None and NaN, whole numbers as int (2000 and 2000.0 alike), other numbers as
    float, anything else as it is."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return int(value) if float(value).is_integer() else float(value)
    return value


def plain_key(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Per row, the text of its `plain` values in `columns`: equal rows give equal keys."""
    return frame[columns].apply(lambda row: repr([plain(v) for v in row]), axis=1)
