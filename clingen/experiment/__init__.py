"""Method comparison over datasets (orchestration, on top of the pipeline): `clingen experiment` runs a grid
of pipeline cells and writes the results table and chart."""
