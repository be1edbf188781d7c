"""Knowledge-graph stage (kg -> prompts): typed biomedical entities and relations, loaders and samplers."""
