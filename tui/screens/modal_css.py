"""The look every modal screen of Duet shares: a centred bordered box."""

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90%; max-width: 140; height: 90%; border: thick $accent; background: $surface; padding: 0 1;
}}
{name} .title {{ text-style: bold; padding: 0 0 1 0; }}
{name} .hint {{ color: $text-muted; }}
"""
