"""Profiles: YAML files, by path or by the name of a built-in profile.

Two kinds share one namespace of names:

* a **policy** profile is a :class:`~analyzer.model.Policy` in YAML (``default`` ships with the
  package and spells out the built-in defaults);
* a **query** profile (:class:`~analyzer.sources.queries.QueryProfile`: ``http``, ``istio``,
  ``nginx``) adds the PromQL the service runs, and names its policy (``policy: default``, a path
  relative to the profile, or an inline mapping).

``canary-analyzer judge --profile http`` judges with the http profile's policy; the service looks
query profiles up by name, built-ins first overridden by the files of a profiles directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from analyzer.errors import InputError, describe
from analyzer.model import Policy
from analyzer.sources.queries import QueryProfile

_SUFFIXES = {".yaml", ".yml", ".json"}


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with the package."""
    folder = resources.files("analyzer") / "profiles"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read_profile(profile: str) -> tuple[str, str, Path | None]:
    """(a description of the source, its text, the folder relative paths start from)."""
    path = Path(profile)
    if path.suffix in _SUFFIXES or path.exists():
        try:
            return str(path), path.read_text(encoding="utf-8"), path.parent
        except OSError as error:
            raise InputError(f"profile {profile}: cannot read: {error.strerror}") from None
    if profile in builtin_profiles():
        text = (resources.files("analyzer") / "profiles" / f"{profile}.yaml").read_text(encoding="utf-8")
        return f"built-in profile {profile!r}", text, None
    raise InputError(f"profile {profile!r} is neither a file nor a built-in profile ({', '.join(builtin_profiles())})")


def _mapping(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(f"{source}: not valid YAML: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{source}: a profile is a mapping of settings, got {type(data).__name__}")
    return data


def _is_query_profile(data: dict[str, Any]) -> bool:
    return "selector" in data


def parse_policy(text: str, source: str) -> Policy:
    """A policy from YAML (or JSON) text; errors name the source and the field."""
    return _policy_from(_mapping(text, source), source, None)


def _policy_from(data: dict[str, Any], source: str, folder: Path | None) -> Policy:
    if _is_query_profile(data):
        return _query_profile_from(data, source, folder).policy
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise InputError(describe(error, source)) from None


def _query_profile_from(data: dict[str, Any], source: str, folder: Path | None) -> QueryProfile:
    data = dict(data)
    policy = data.get("policy")
    if isinstance(policy, str):
        reference = str(folder / policy) if folder is not None and Path(policy).suffix in _SUFFIXES else policy
        if reference == source:
            raise InputError(f"{source}: policy: a profile cannot name itself as its policy")
        data["policy"] = load_policy(reference)
    try:
        return QueryProfile.model_validate(data)
    except ValidationError as error:
        raise InputError(describe(error, source)) from None


def load_policy(profile: str | None) -> Policy:
    """The policy of a profile path or built-in name (a query profile's own policy); defaults for None."""
    if profile is None:
        return Policy()
    source, text, folder = _read_profile(profile)
    return _policy_from(_mapping(text, source), source, folder)


def load_query_profile(profile: str) -> QueryProfile:
    """A query profile by path or built-in name."""
    source, text, folder = _read_profile(profile)
    data = _mapping(text, source)
    if not _is_query_profile(data):
        raise InputError(f"{source} is a policy without queries (no 'selector'); the service needs a query profile")
    return _query_profile_from(data, source, folder)


def query_profiles(directory: Path | None = None) -> dict[str, QueryProfile]:
    """Every query profile by name: the built-ins, then the files of ``directory`` (which win)."""
    profiles: dict[str, QueryProfile] = {}
    for name in builtin_profiles():
        source, text, _ = _read_profile(name)
        if _is_query_profile(_mapping(text, source)):
            profiles[name] = load_query_profile(name)
    if directory is not None:
        if not directory.is_dir():
            raise InputError(f"profiles directory {directory} does not exist")
        for path in sorted(directory.iterdir()):
            if path.suffix in _SUFFIXES and _is_query_profile(_mapping(path.read_text(encoding="utf-8"), str(path))):
                loaded = load_query_profile(str(path))
                profiles[loaded.name] = loaded
    return profiles
