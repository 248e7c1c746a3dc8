"""The test kit: helpers the test modules import instead of copying (or reaching into each other's privates)."""
