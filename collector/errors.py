"""The error middleware: every failure becomes the JSON envelope, never a 500 on client input."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from collector.httputil import REASONS, ApiError, error_response
from collector.ingest.pipeline import Overloaded
from collector.mapping.errors import InvalidJson, ValidationFailed
from store.errors import Conflict, NotFound, RetryableStoreError

__all__ = ("error_middleware",)

LOG = logging.getLogger("collector.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

def _retry_after(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds)}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every exception to a response; nothing a client sends can produce a 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except InvalidJson as exc:
        return error_response(400, "Invalid JSON body", hint=str(exc) or None)
    except ValidationFailed as exc:
        details = [{"path": path, "message": message} for path, message in exc.details]
        return error_response(400, "Validation failed", details=details)
    except Overloaded as exc:
        return error_response(503, str(exc), headers=_retry_after(exc.retry_after))
    except RetryableStoreError:
        return error_response(503, "Database unavailable, retry later", headers=_retry_after(1))
    except NotFound as exc:
        return error_response(404, str(exc) or "Not found")
    except Conflict as exc:
        return error_response(409, str(exc) or "Conflict")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = REASONS.get(exc.status, exc.reason)
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return error_response(exc.status, message, headers=headers)
    except Exception:
        LOG.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Internal server error")
