"""Duet's model layer: settings, model files, prompt modes and engines. Knows nothing of the screen."""
