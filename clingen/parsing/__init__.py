"""Parsing and filtering stage (generation -> parsing/filtering -> datasets)."""
