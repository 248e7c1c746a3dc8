"""Development only, never deployed nor imported by shared/: the local stack, stand-ins, sandboxes, synthetic data, the demo, packaging and the dps CLI."""
