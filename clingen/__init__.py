"""ClinGen: knowledge-infused synthetic clinical NLP data (kg -> prompts -> generation -> parsing -> datasets)."""

__version__ = "0.2.0"
