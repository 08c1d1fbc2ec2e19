"""Text from the database into arrays: JSON values decoded once per distinct text,
CSV parsed by Arrow into typed columns."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv


def decode_json(texts: np.ndarray) -> np.ndarray:
    """JSON texts (None for SQL NULL) decoded once per distinct text."""
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    # SQLite's JSON columns have numeric affinity: a number's text is stored as the
    # number itself, already decoded.
    decoded = np.array(
        [_loads(text) if isinstance(text, str) else text for text in uniques] + [None],
        dtype=object,
    )
    return decoded[codes]


def _int_or_float(text: str) -> int | float:
    # jsonb prints a large float such as 1.8e308 as an integer literal; past int64 it
    # can only have been a float, and the driver reads it as one.
    value = int(text)
    return value if -(2**63) <= value < 2**63 else float(text)


def _loads(text: str) -> Any:
    return json.loads(text, parse_int=_int_or_float)


def decode_rows(lines: list[str], width: int) -> list[np.ndarray]:
    """JSON arrays, one per row, decoded once per distinct row: ``width`` object
    arrays of their values."""
    codes, uniques = pd.factorize(np.array(lines, dtype=object))
    decoded = [json.loads(text) for text in uniques]
    return [
        np.array([row[j] for row in decoded] + [None], dtype=object)[:-1][codes]
        for j in range(width)
    ]


def read_csv(
    data: bytes, names: list[str], types: dict[str, pa.DataType], null_values: list[str]
) -> pa.Table:
    if not data:
        return pa.table({n: pa.array([], type=types[n]) for n in names})
    if not data.endswith(b"\n"):
        # Arrow misreads an empty last field on a last line without its newline.
        data += b"\n"
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            null_values=null_values,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def floats(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def strings(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
