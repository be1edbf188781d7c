"""End-to-end orchestration (kg -> prompts -> generation -> quality -> training -> evaluation -> serving):
`clingen pipeline` runs each stage's library function as a cached, resumable step."""
