"""Quality stage (datasets -> quality report): how close and how diverse synthetic sets are, beside real data."""
