"""`dps backfill`: a long date range loaded through the public run API as a resumable series of run requests."""
