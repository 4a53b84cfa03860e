"""duet (no subcommand): the app, its models already loading before Textual is imported."""

from __future__ import annotations

import argparse

from models.errors import DuetError
from models.pair import open_sessions
from models.session import CLOSE_TIMEOUT_S, close_sessions
from tui.cli.options import UsageError, pane_configs, prepare_embedded_models, sampling_settings
from tui.cli.start_up import end_start_up_after


def run_app(args: argparse.Namespace) -> int:
    app = build_app(args)
    app.run()
    return app.return_code or 0


def build_app(args: argparse.Namespace):
    """The app for ``args``, its models already loading (the benchmarks start it the same way)."""
    configs = pane_configs(args)
    sampling = sampling_settings(args)
    resume = _resume_id(args)
    # The models start loading now, on their own threads, while Textual is imported and the
    # screen is built: loading the embedded pair is most of the time to a ready app.
    prepare_embedded_models(configs)
    started = {session.role: session for session in open_sessions(configs, sampling)}
    end_start_up_after(session.loading for session in started.values())
    try:
        from tui.app import DuetApp

        return DuetApp(configs, sampling, resume=resume, started=started)
    except BaseException:
        close_sessions(started.values(), CLOSE_TIMEOUT_S)
        raise


def _resume_id(args: argparse.Namespace) -> int | None:
    if not getattr(args, "resume", None):
        return None
    from models.store.history import HistoryStore

    try:
        with HistoryStore() as store:
            if args.resume == "last":
                latest = store.conversations(limit=1)
                if not latest:
                    raise UsageError("there is no saved conversation to resume yet")
                return latest[0]["id"]
            if args.resume.isdigit() and store.exists(int(args.resume)):
                return int(args.resume)
            raise UsageError(f"no conversation {args.resume} in the history; see: duet history list")
    except DuetError as err:
        raise UsageError(str(err)) from None
