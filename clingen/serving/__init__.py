"""Serving stage (datasets -> training -> serving): Ray Serve applications, the generator among them."""
