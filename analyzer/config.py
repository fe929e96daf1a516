"""Policy profiles: YAML files, by path or by the name of a built-in profile.

A profile is a :class:`~analyzer.model.Policy` in YAML. ``default`` ships with the package and
spells out the built-in defaults (``analyzer/profiles/default.yaml``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from analyzer.errors import InputError, describe
from analyzer.model import Policy


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with the package."""
    folder = resources.files("analyzer") / "profiles"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read_profile(profile: str) -> tuple[str, str]:
    path = Path(profile)
    if path.suffix in {".yaml", ".yml", ".json"} or path.exists():
        try:
            return str(path), path.read_text(encoding="utf-8")
        except OSError as error:
            raise InputError(f"profile {profile}: cannot read: {error.strerror}") from None
    if profile in builtin_profiles():
        text = (resources.files("analyzer") / "profiles" / f"{profile}.yaml").read_text(encoding="utf-8")
        return f"built-in profile {profile!r}", text
    raise InputError(f"profile {profile!r} is neither a file nor a built-in profile ({', '.join(builtin_profiles())})")


def parse_policy(text: str, source: str) -> Policy:
    """A policy from YAML (or JSON) text; errors name the source and the field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(f"{source}: not valid YAML: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{source}: a profile is a mapping of settings, got {type(data).__name__}")
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise InputError(describe(error, source)) from None


def load_policy(profile: str | None) -> Policy:
    """The policy of a profile path or built-in name; the defaults when ``profile`` is None."""
    if profile is None:
        return Policy()
    source, text = _read_profile(profile)
    return parse_policy(text, source)
