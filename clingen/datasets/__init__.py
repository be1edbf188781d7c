"""Datasets stage: canonical example records, their file formats, and readers for real evaluation data."""
