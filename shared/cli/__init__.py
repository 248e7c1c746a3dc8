"""`dps`, the operator's command line: bootstrap, orgs, keys, credentials, prices, schedules, dead letters, reaper.

Never deployed with a function. The development commands (the local stack, the demo, synthetic data) are added
by devstack.cli, which is the installed `dps` entry point.
"""
