"""Training stage (datasets -> training -> serving): label spaces, featurisation, encoders, fine-tuning, prediction."""
