"""Conversations and batch runs rendered for a file: Markdown, HTML and JSON reports (report.py),
the token-shift lens in them (shift_report.py), and what differed between the panes (run_summary.py)."""
