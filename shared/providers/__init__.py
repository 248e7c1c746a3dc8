"""Cost sources: one folder per provider behind one contract (contract.py), the kit they share, the registry."""
