"""The analysis GET's query arguments, validated in one call, and documented as FastAPI documents a query model.

Declared as ``Annotated[AnalysisRequest, Query()]``, FastAPI inspects each field's annotation again at
every request before it validates (is it a sequence, a JSON field, which alias came): ~25 us of the
event loop's CPU at every look, the most of any dependency. Argo asks this route at every look, so its
arguments are validated here instead, by the model alone, from the query string as FastAPI would pass it
(every parameter by its name, extras included, so the model refuses them); the problem answers are the
same, as the errors carry the same ``("query", field)`` locations. The OpenAPI document lists the
parameters FastAPI itself generates for the query model (:data:`PARAMETERS`), so the document does
not change either.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from analyzer.server.schemas import AnalysisRequest


async def analysis_args(request: Request) -> AnalysisRequest:
    """The request's arguments; 422 (RequestValidationError, as FastAPI raises it) when they are not valid.
    A coroutine: no trip through the shared thread pool."""
    try:
        return AnalysisRequest.model_validate(dict(request.query_params))
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in error.errors()]) from None


def _documented() -> list[dict[str, Any]]:
    """The OpenAPI parameters FastAPI generates for :class:`AnalysisRequest` as a query model."""
    probe = FastAPI()

    @probe.get("/")
    async def _route(args: Annotated[AnalysisRequest, Query()]) -> None:
        """Never called: only documented."""

    parameters: list[dict[str, Any]] = probe.openapi()["paths"]["/"]["get"]["parameters"]
    return parameters


#: What the route's ``openapi_extra`` documents: its query parameters (inline schemas, no components).
PARAMETERS = _documented()
