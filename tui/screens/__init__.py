"""The screens pushed over the main one: help, prompt inspector, sampling settings, history, models."""
