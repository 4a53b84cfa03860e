"""What can go wrong talking to the hub, as one actionable line: explain_hub_error and its helpers.

Also DownloadCancelled (a pull stopped through its cancel event) and the test for a network error,
which recognises the exception classes of both httpx and requests by name, without importing them.
"""

from __future__ import annotations

import errno

from models.errors import DuetError
from models.files.hub_spec import HubFile


class DownloadCancelled(DuetError):
    """The pull was cancelled through its cancel event; the partial file is kept for a resume."""


_NETWORK_ERRORS = {
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
    "TimeoutException",
    "NetworkError",
    "ReadError",
    "WriteError",
    "RemoteProtocolError",
    "TransportError",
    "ProtocolError",
    "ConnectionError",
    "Timeout",
    "ChunkedEncodingError",
    "ProxyError",
}


def is_network_error(err: BaseException) -> bool:
    if isinstance(err, (ConnectionError, TimeoutError)):
        return True
    return any(cls.__name__ in _NETWORK_ERRORS for cls in type(err).__mro__)


def endpoint_url(endpoint: str | None) -> str:
    """The hub's base URL: ``endpoint`` or huggingface_hub's (HF_ENDPOINT), without a trailing slash."""
    if endpoint:
        return endpoint.rstrip("/")
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def http_status(err: BaseException) -> int | None:
    """The HTTP status of the response behind ``err``, if it carries one."""
    return getattr(getattr(err, "response", None), "status_code", None)


def explain_hub_error(err: BaseException, name: str, hub: HubFile, endpoint: str | None = None) -> DuetError:
    """One actionable line for what went wrong talking to the hub about ``hub``."""
    from huggingface_hub import errors as hf_errors

    status = http_status(err)
    page = f"{endpoint_url(endpoint)}/{hub.repo}"
    token_hint = (
        "create a read token at https://huggingface.co/settings/tokens and set HF_TOKEN to it (or run `hf auth login`)"
    )
    if isinstance(err, DuetError):
        return err
    if isinstance(err, hf_errors.OfflineModeIsEnabled):
        return DuetError(f"cannot download {name}: HF_HUB_OFFLINE is set; unset it and run: duet models pull {name}")
    if isinstance(err, hf_errors.GatedRepoError) or (
        status in (401, 403)
        and not isinstance(err, (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError))
    ):
        return DuetError(
            f"{hub.repo} is gated (HTTP {status or 403}): accept its licence on {page} while logged in, "
            f"then {token_hint}, and pull again"
        )
    if isinstance(err, hf_errors.RepositoryNotFoundError):
        return DuetError(
            f"repository {hub.repo} was not found on {endpoint_url(endpoint)} (HTTP {status or 404}); check the name, "
            f"or if it is private or gated, {token_hint}"
        )
    if isinstance(err, hf_errors.RevisionNotFoundError):
        return DuetError(f"revision '{hub.revision}' does not exist in {hub.repo} (HTTP {status or 404})")
    if isinstance(err, (hf_errors.RemoteEntryNotFoundError, hf_errors.EntryNotFoundError)) or status == 404:
        return DuetError(
            f"{hub.file} was not found in {hub.repo} at revision {hub.revision} (HTTP 404); see {page}/tree/{hub.revision}"
        )
    if isinstance(err, hf_errors.HfHubHTTPError) and status is not None:
        return DuetError(f"the hub answered HTTP {status} for {name}; try again later (pull resumes where it stopped)")
    if isinstance(err, hf_errors.LocalEntryNotFoundError) or is_network_error(err):
        return DuetError(
            f"cannot reach the Hugging Face hub at {endpoint_url(endpoint)} ({type(err).__name__}); {name} is not in "
            f"the cache yet: run `duet models pull {name}` again when online"
        )
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return DuetError(
            f"the disk filled up while downloading {name}; free some space (or set HF_HUB_CACHE to a bigger disk) "
            f"and pull again: it resumes where it stopped"
        )
    if isinstance(err, OSError):
        return DuetError(f"cannot download {name}: {err.strerror or err}")
    return DuetError(f"cannot download {name}: {type(err).__name__}: {err}")
