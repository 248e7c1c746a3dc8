"""The BigQuery adapter: parameterised statements, table specs, slice replacement, staging."""
