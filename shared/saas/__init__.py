"""SaaS plans the org enters: their terms (validation) and their versioned store in Firestore. The API and the CLI
write them; the `saas` provider (shared/providers/saas/) prices them."""
