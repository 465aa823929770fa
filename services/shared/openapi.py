"""Error answers as the services' OpenAPI documents declare them.

FastAPI documents each operation's success and its 422 by itself; the 401, 404, 409… that
dependencies and handlers raise appear only if declared. Routers and routes declare theirs with
:func:`errors`, so that clients (and the fuzzing harness, which fails on any status an operation
does not document) know every answer an operation can give.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """What every refusal carries: a sentence saying what was wrong and what to do."""

    detail: str = Field(description="what was wrong, in words a person understands")


DESCRIPTIONS = {
    400: "the request cannot be carried out as sent",
    401: "no bearer token, or not the right one",
    403: "the token does not allow this",
    404: "no such resource",
    409: "the resource is not in a state that allows this",
    413: "the body is larger than allowed",
    416: "the range is outside the file",
    503: "not possible right now (see Retry-After)",
}


def errors(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these status codes (``described``: ``_404="unknown file"``)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in (*codes, *(int(key.lstrip("_")) for key in described)):
        text = described.get(f"_{code}", DESCRIPTIONS[code])
        out[code] = {"model": ErrorBody, "description": text}
    return out
