"""The provider functions' runtime: claim a run, execute its pipeline's steps, settle it."""
