"""Prompt stage (kg -> prompts -> generation): knowledge-infused prompt composition and its baselines."""
