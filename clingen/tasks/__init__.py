"""Task stage (feeds prompts, parsing, training): specs for the 16 built-in datasets and user tasks."""
