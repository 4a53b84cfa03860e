"""Widgets of the main screen: the chat pane, its answer blocks, and the prompt box."""
