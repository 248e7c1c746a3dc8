"""Process plumbing every function shares: settings, the error catalogue, logs, clients, ids."""
