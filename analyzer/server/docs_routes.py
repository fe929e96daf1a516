"""Swagger UI (``/docs``) and ReDoc (``/redoc``) served from the package: no CDN, so they work air-gapped.

FastAPI's own pages load their JavaScript and CSS from a CDN and are blank without internet. The
assets come from the ``fastapi-offline`` wheel (MIT; Swagger UI is Apache-2.0, ReDoc MIT): it is
kept current with Swagger UI 5 and ReDoc 2 and ships both, where ``swagger-ui-bundle`` stopped at
Swagger UI 4.15 (2022) and has no ReDoc. Only its files are used, through FastAPI's own page
builders, so the app keeps its factory and its routes. The app must be created with
``docs_url=None, redoc_url=None`` for these routes to answer.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)

#: Nothing from elsewhere: ReDoc's footer would fetch its logo from a CDN, which this refuses before any request.
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)

_ASSETS = "/docs/assets"
_MEDIA = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


def _static() -> Path:
    return Path(str(resources.files("fastapi_offline") / "static"))


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = _CSP
    return page


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return _offline(get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        swagger_js_url=f"{root}{_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{_ASSETS}/favicon.png",
    ))


@router.get("/docs/oauth2-redirect")
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    return _offline(get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{_ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{_ASSETS}/favicon.png",
        with_google_fonts=False,
    ))


@router.get(_ASSETS + "/{name}")
def asset(name: str) -> FileResponse:
    """One of the few bundled files, by exact name (nothing else on disk is reachable)."""
    if name not in _MEDIA:
        raise HTTPException(404, f"no asset {name}")
    return FileResponse(_static() / name, media_type=_MEDIA[name], headers={"Cache-Control": "public, max-age=86400"})
