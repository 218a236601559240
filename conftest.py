"""Loaded for every test path (tests/, notebooks/, solutions/): the nbval output-noise check."""

pytest_plugins = ["tests.nbval_noise"]
