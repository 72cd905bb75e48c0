"""Composition roots: each entry point builds its stores, clock and registries here, and nowhere else."""
