"""The engine for panes backed by an OpenAI-compatible HTTP server."""
