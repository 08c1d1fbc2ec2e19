"""Features read from each row's JSON text by Arrow's JSON reader (multi-threaded C++),
instead of SQL JSON functions: SQLite's ``json_extract`` looks each path up by
scanning the object's keys, so a row of 25 features costs it hundreds of key
comparisons, and its parse is the largest part of a window read.

Numeric features are read as float64 (Arrow parses numbers to the nearest double, as
Python does). A categorical feature keeps its JSON value's type (text, integer,
float, boolean), which Arrow infers per column. Where it cannot (one column holding
text and numbers, objects, arrays) the caller reads the window another way.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from backend.runs.windows.decode import floats

# Arrow parses blocks of this many bytes on its threads; a row's JSON must fit in one.
BLOCK_BYTES = 1 << 24
# A double past this may have been an integer JSON could hold exactly, and is not one.
EXACT_INTEGERS = 2.0**53
SCALARS = (pa.types.is_string, pa.types.is_int64, pa.types.is_float64, pa.types.is_boolean)


def parse_features(
    text: bytes, rows: int, numeric: list[str], categorical: list[str]
) -> dict[str, np.ndarray] | None:
    """``rows`` JSON objects, one per line: each numeric feature as float64 (NaN
    where missing or null), each categorical one as an object array of its JSON
    values (None where missing or null). ``None`` when a column's values cannot be
    typed alike, or the text is not ``rows`` objects."""
    try:
        table = pajson.read_json(
            io.BytesIO(text),
            read_options=pajson.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pajson.ParseOptions(
                explicit_schema=pa.schema([(name, pa.float64()) for name in numeric]),
                unexpected_field_behavior="infer",
                newlines_in_values=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    if table.num_rows != rows:
        return None
    out = {name: floats(table.column(name)) for name in numeric}
    present = set(table.column_names)
    for name in categorical:
        if name not in present:
            out[name] = np.full(rows, None, dtype=object)
            continue
        values = _json_values(table.column(name))
        if values is None:
            return None
        out[name] = values
    return out


def _json_values(column: pa.ChunkedArray) -> np.ndarray | None:
    """The column as Python values (None for null), each distinct value converted
    once; ``None`` for a type that is not one JSON scalar."""
    if pa.types.is_null(column.type):
        return np.full(len(column), None, dtype=object)
    if not any(test(column.type) for test in SCALARS):
        return None
    encoded = pc.dictionary_encode(column.combine_chunks())
    uniques = encoded.dictionary.to_pylist()
    if pa.types.is_float64(column.type) and any(
        abs(v) >= EXACT_INTEGERS and v.is_integer() for v in uniques if v == v
    ):
        return None  # an integer too large for a double may have been rounded
    lookup = np.array([*uniques, None], dtype=object)
    return lookup[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
