"""Text on its way to the screen: untrusted text made safe (safe_text.py, and safe_app.py for the
app's toasts and palettes) and one name per model in the history's lists (model_names.py)."""
