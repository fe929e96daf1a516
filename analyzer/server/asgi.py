"""ASGI entry point for uvicorn workers: settings from the environment (and CANARY_ANALYZER_CONFIG)."""

from __future__ import annotations

from fastapi import FastAPI

from analyzer.server import logs
from analyzer.server.app import create_app
from analyzer.settings import load_settings


def app() -> FastAPI:
    settings = load_settings()
    logs.configure(settings.log_level)
    return create_app(settings)
