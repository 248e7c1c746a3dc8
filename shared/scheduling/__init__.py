"""Schedules: cron in a time zone, the trigger, and one named Cloud Task per due run."""
