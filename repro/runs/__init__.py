"""Runs as data: a run's identity (`RunConfig`), running it (`run`), the results store, studies
and profiles, the learning-rate choice on validation, grid files, sweeps and executors."""
