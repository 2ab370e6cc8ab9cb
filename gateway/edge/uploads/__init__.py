"""Staged uploads of import files (``PUT /uploads/...``)."""
