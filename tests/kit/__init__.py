"""The test kit: what tests share (recorded provider APIs, faults, step contexts, runs over the stack)."""
