"""Loaded for every test path (tests/, notebooks/, solutions/): the nbval output-noise check, and
the readings check of the lessons in tests/lesson_readings.py."""

pytest_plugins = ["tests.nbval_noise", "tests.nbval_readings"]
