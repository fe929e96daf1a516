"""Measurements from a JSON (or YAML) file, or standard input with ``-``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from analyzer.errors import InputError, describe
from analyzer.model import Measurement


def parse_measurement(text: str, source: str) -> Measurement:
    """Validate a measurement document; errors name the source, field and step."""
    try:
        return _parsed(text, source)
    except RecursionError:  # thousands of nested brackets (parser or validator): no measurement is like that
        raise InputError(f"{source}: nested too deeply to be a measurement") from None


def _parsed(text: str, source: str) -> Measurement:
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise InputError(f"{source}: not valid JSON or YAML: {error}") from None
    if not isinstance(data, dict):
        raise InputError(f"{source}: a measurement is an object with 'step_seconds' and 'metrics'")
    try:
        return Measurement.model_validate(data)
    except ValidationError as error:
        raise InputError(describe(error, source)) from None


def load_measurement(path: str) -> Measurement:
    if path == "-":
        return parse_measurement(sys.stdin.read(), "stdin")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    return parse_measurement(text, path)
