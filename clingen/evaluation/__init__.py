"""Evaluation stage (training -> evaluation -> serving): task metrics for predictions against gold labels, and reports."""
