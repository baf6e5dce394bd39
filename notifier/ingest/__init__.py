"""Ingest: case files, subscriber CSV files and list files, checked before anything is written."""

#: What other packages may import from this one (modules and names); the rest is its own.
#: tests/test_layers.py holds every import from outside to it.
__all__ = [
    "case_files",
    "list_files",
    "subscriber_csv",
]
