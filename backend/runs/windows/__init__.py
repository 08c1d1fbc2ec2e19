"""Columnar reads of a window of predictions: one array per column, not one Python
object per value.

A 1M-row window of 25 features is 25M values; turning each into a Python object and
then into a DataFrame costs far more than the detectors themselves. So each database
has its reader (``postgresql``, ``sqlite``), both share ``query`` and ``decode``, and
``load`` turns what they return into a detector's window. Categorical features, the
prediction and the label arrive as JSON text and are decoded once per distinct value.
These modules are the runs repository's window half: SQL lives here and in
``backend/runs/repository.py``.
"""
