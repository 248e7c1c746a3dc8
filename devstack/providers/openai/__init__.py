"""OpenAI's local half: the sandbox Usage and Costs API."""
