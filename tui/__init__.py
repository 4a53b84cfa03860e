"""Duet's user interface: the Textual app and the command line. Knows nothing of llama.cpp."""
