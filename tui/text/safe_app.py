"""The app's text outlets that take markup, made safe for every caller: toasts and the command palette.

``App.notify`` parses its message as markup by default, and the command palette parses every
command's name and help (Textual's ``Content.from_markup``); preset names, paths and error lines
reach both. ``SafeTextApp`` is the first base of DuetApp, so every ``notify`` (from the app, a
screen or a widget) and every palette list (F4's presets, the system commands) shows exactly the
text it was given, neutralized (tui/text/safe_text.py). Nothing in Duet uses markup on purpose there;
``notify(..., markup=True)`` still can.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import App
from textual.command import CommandListItem, DiscoveryHit, Hit, Hits, Matcher, SimpleProvider
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.system_commands import SystemCommandsProvider

from tui.text.safe_text import markup_safe, neutralize


def highlighted(matcher: Matcher, name: str) -> Content:
    """``name`` as plain Content with the matched letters styled (Matcher.highlight parses markup)."""
    shown = neutralize(name)
    content = Content(shown)
    if len(shown) != len(name):  # a C1 control became four characters: offsets no longer line up
        return content
    _score, offsets = matcher.fuzzy_search.match(matcher.query, name)
    for offset in offsets:
        if not name[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


def _help(text: str | None) -> str | None:
    return markup_safe(text) if text else text


class SafeSystemCommands(SystemCommandsProvider):
    """Textual's system commands provider, with names and help shown as plain text."""

    async def discover(self) -> Hits:
        commands = sorted(self.app.get_system_commands(self.screen), key=lambda command: command[0])
        for name, help_text, callback, discover in commands:
            if discover:
                yield DiscoveryHit(markup_safe(name), callback, text=name, help=_help(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback, *_ in self.app.get_system_commands(self.screen):
            if (score := matcher.match(name)) > 0:
                yield Hit(score, highlighted(matcher, name), callback, text=name, help=_help(help_text))


class _SafeCommands(SimpleProvider):
    """What ``App.search_commands`` shows, names and help as plain text."""

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands:
            yield DiscoveryHit(markup_safe(name), callback, text=name, help=_help(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands:
            if (score := matcher.match(name)) > 0:
                yield Hit(score, highlighted(matcher, name), callback, text=name, help=_help(help_text))


class SafeTextApp(App):
    """Mixed into DuetApp first: toasts and palettes never parse the text they are given."""

    COMMANDS: ClassVar = {SafeSystemCommands}

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        # A toast's title is never markup; its message is not either, unless a caller asks.
        title = neutralize(str(title))
        super().notify(neutralize(str(message)), title=title, severity=severity, timeout=timeout, markup=markup)

    def search_commands(self, commands: Sequence[CommandListItem], placeholder: str = "Search for commands…"):
        from textual.command import CommandPalette

        provider = _SafeCommands(self.screen, list(commands))
        # An instance, as Textual's own search_commands passes its SimpleProvider (the annotation says classes).
        return self.push_screen(CommandPalette(providers=[provider], placeholder=placeholder))  # type: ignore[list-item]
