"""The main screen's keys: every binding in the footer's order (bindings.py), and ESC + digit read
as alt+digit (alt_digits.py)."""
