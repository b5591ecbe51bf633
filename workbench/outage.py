"""An unreachable database answers 503 with ``Retry-After``, not a 500 traceback.

During a database restart every request used to end in an HTML 500 page (also for
the annotate screen's JSON saves) and the log filled with tracebacks, among them a
follow-on ``'SessionStore' object has no attribute '_session_cache'``: the session
failed to load, and the error pages then touched the session again.

``DatabaseOutageMiddleware`` sits after WhiteNoise (static files need no database)
and before the session and authentication middleware, which are the first to read
the database. It

- checks the connection before anything else reads it (Django's health check of a
  persistent connection, or the connect itself; no extra query when the
  connection is fine, since the health check is then not repeated), and answers
  503 at once when the database cannot be reached, so no session or user is loaded;
- loads the session's user before the other view middleware do, and turns a
  connection lost then or while the view runs (``OperationalError`` or
  ``InterfaceError``) into the same 503;
- answers JSON ``{"status": "unavailable", "message": ...}`` to a request that
  accepts JSON (the annotate screen's saves keep their labels and retry), a plain
  HTML page (``templates/503.html``, rendered without context processors, so
  without the session, the user or any query) to the others, both with
  ``Retry-After``;
- logs one line per failed request (logger ``workbench.outage``) and marks the
  response as logged, so Django's request logger adds no second line.

A connection lost inside another middleware's own request or response step (a
session saved just as the database goes away) is not caught here; it is a narrow
window, not a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import get_template

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
MESSAGE = (
    "The database cannot be reached right now (a restart or maintenance). "
    "Nothing was saved; try again in a few seconds."
)
UNAVAILABLE = (OperationalError, InterfaceError)


class DatabaseOutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            check_connection()
        except UNAVAILABLE as error:
            return unavailable(request, error)
        return self.get_response(request)

    def process_view(self, request: HttpRequest, *args) -> HttpResponse | None:
        """Load the session's user here, first of the view middleware (the
        login-required check loads it next anyway, so this costs no query): a
        database lost after the check above is a 503 here, not a 500 there."""
        user = getattr(request, "user", None)
        if user is not None:
            try:
                user.is_authenticated  # noqa: B018 (evaluates the lazy user)
            except UNAVAILABLE as error:
                return unavailable(request, error)
        return None

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if isinstance(exception, UNAVAILABLE):
            return unavailable(request, exception)
        return None


def check_connection() -> None:
    """Raise ``OperationalError`` if the default database cannot be reached.

    A persistent connection gets Django's health check first (a dead one is
    closed and opened anew), as the request's first query would do; the check is
    then marked done, so it costs the request nothing extra.
    """
    connection = connections["default"]
    connection.close_if_health_check_failed()
    connection.ensure_connection()


def unavailable(request: HttpRequest, error: Exception) -> HttpResponse:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
    logger.warning(
        "database unavailable: %s %s answered 503 (%s: %s)",
        request.method,
        request.path,
        type(error).__name__,
        reason,
    )
    if "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse(
            {"status": "unavailable", "message": MESSAGE}, status=503
        )
    else:
        html = get_template("503.html").render(
            {"message": MESSAGE, "retry_after": RETRY_AFTER_SECONDS}
        )
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # Django's request logger would log the 503 again ("Service Unavailable").
    response._has_been_logged = True
    return response
