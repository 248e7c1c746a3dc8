"""Who an org is and what it holds: API keys, subscriptions, credentials, onboarding."""
