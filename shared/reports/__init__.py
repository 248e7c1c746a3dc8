"""The cost report (`dps report`): an org's cost_focus, LLM reconciliation, budgets and runs as one offline HTML
page with charts, plus a PNG of each chart."""
