"""Report pages: ``GET /reports/{id}``, one self-contained HTML page per recorded judgment.

A browser opens it from a signed link (:mod:`analyzer.server.links`), with no bearer header; API
callers may send their bearer token instead. A bad or expired signature is a 403 problem, an unknown
judgment a 404 problem. Drawing a page (recomputing the evidence over looks and the plots) takes
about a second of CPU, in the thread pool, never on Argo's hot path.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from analyzer.server.auth import require_token
from analyzer.server.links import LinkRefusedError, latest_signature, report_links
from analyzer.server.problems import problem
from analyzer.service.analysis import Analyzer
from analyzer.service.reports import latest_report_id, load_report, render_report
from analyzer.sources.queries import Namespace, PodTemplateHash, RolloutName

router = APIRouter(tags=["reports"])
_bearer = HTTPBearer(auto_error=False, description="instead of a signed link")

#: The page fetches nothing; the header repeats the page's own policy for clients that read headers only.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, max-age=300",
}


@router.get(
    "/reports/latest",
    status_code=303,
    responses={
        303: {"description": "to the signed page of the canary's newest judgment"},
        403: {"description": "a bad or expired signature, or notification links are off (problem+json)"},
        404: {"description": "no judgment of this canary (problem+json)"},
    },
)
def latest_report(
    request: Request,
    namespace: Namespace,
    rollout: RolloutName,
    canary: PodTemplateHash,
    expires: Annotated[int, Query(ge=0, description="epoch seconds")],
    sig: Annotated[str, Query(max_length=64, description="sha256 hex, as the notification template computed it")],
) -> Response:
    """A canary's newest report, from a link an Argo Rollouts notification template computed.

    Argo's notification templates see the Rollout, not the AnalysisRun's measurement, so they cannot
    copy a judgment's link; they can name the canary (``status.currentPodHash``) and sign that with
    ``report_notification_key`` (sprig's ``sha256sum``, see docs/reports.md).
    """
    analyzer: Analyzer = request.app.state.analyzer
    key = analyzer.settings.report_notification_key
    if key is None:
        return problem(403, "Report link refused", "notification links are off: report_notification_key is not set")
    expected = latest_signature(key.get_secret_value(), namespace, rollout, canary, expires)
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        return problem(403, "Report link refused", "the notification link's signature is not valid")
    if analyzer.clock() >= expires:
        return problem(403, "Report link refused", "the notification link has expired")
    found = latest_report_id(analyzer.database, namespace, rollout, canary)
    if found is None:
        raise HTTPException(404, f"no judgment of canary {canary!r} of {namespace}/{rollout}")
    return RedirectResponse(report_links(request).url(found), status_code=303)


@router.get(
    "/reports/{judgment_id}",
    response_class=HTMLResponse,
    responses={
        401: {"description": "no signed link, and a missing or wrong bearer token (problem+json)"},
        403: {"description": "a bad or expired link signature (problem+json)"},
        404: {"description": "no such judgment (problem+json)"},
    },
)
def report_page(
    request: Request,
    judgment_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    expires: Annotated[int | None, Query(ge=0, description="epoch seconds, from the signed link")] = None,
    sig: Annotated[str | None, Query(max_length=64, description="the link's signature")] = None,
) -> Response:
    """A recorded judgment's report page: verdict, reasons, and per metric the evidence and its plots."""
    links = report_links(request)
    if sig is None and expires is None:
        require_token(request, credentials)  # an API caller; open when the service has no tokens
    else:
        try:
            links.check(judgment_id, expires or 0, sig or "")
        except LinkRefusedError as error:
            return problem(403, "Report link refused", str(error))
    analyzer: Analyzer = request.app.state.analyzer
    report = load_report(analyzer.database, judgment_id)
    if report is None:
        return problem(404, "Not found", f"no judgment {judgment_id}")
    return HTMLResponse(render_report(report), headers=_HEADERS)
