"""The run control plane: the run log, admission (quotas), publishing, group commit, the reaper."""
