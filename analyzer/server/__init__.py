"""The HTTP service: FastAPI app factory, routers, auth, problem responses, /metrics."""

from analyzer.server.app import create_app

__all__ = ["create_app"]
