"""TOML parsing on every supported Python: tomllib from 3.11, the tomli backport on 3.10."""

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - CI runs 3.11; vermin checks that nothing else needs it
    import tomli as tomllib

__all__ = ["tomllib"]
