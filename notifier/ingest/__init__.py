"""Ingest: case files, subscriber CSV files and list files, checked before anything is written."""
