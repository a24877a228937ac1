"""Reports an app's API hands out as files (CSV, Excel): their media types, how OpenAPI lists them beside the
JSON answer, and the response that makes a browser save them under a name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from fastapi.types import DecoratedCallable

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {"csv": "text/csv", "xlsx": XLSX}


def report_files(*formats: str) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=``: its 200 may also be the report as these files (``csv``, ``xlsx``)."""
    return {200: {"content": {MEDIA_TYPES[f]: {} for f in formats}, "description": "the report"}}


def report_route(
    router: APIRouter, path: str, model: Any, *formats: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """``router``'s GET ``path`` of a report: ``model`` as JSON, or the report as one of these files (its
    ``format`` query parameter says which)."""
    return router.get(path, response_model=model, responses=report_files(*formats))


def download(body: bytes | str, filename: str) -> Response:
    """``body`` as an attachment called ``filename``, of the media type its extension (csv, xlsx) names."""
    media_type = MEDIA_TYPES[filename.rpartition(".")[2]]
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
