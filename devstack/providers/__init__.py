"""Each provider's local half: its sandbox or synthetic source, and how the demo onboards it."""
