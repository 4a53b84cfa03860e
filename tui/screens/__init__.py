"""The main screen (main.py), and the screens pushed over it: help, prompt inspector, sampling
settings, history, models, tune."""
