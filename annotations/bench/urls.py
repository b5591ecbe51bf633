"""URLconf used only by ``manage.py bench``: the real URLs plus the "limit" view.

``workbench.settings`` never points here, so the limit view cannot be reached in
production; the bench switches to this module with ``override_settings`` while it
sends requests through Django's test client.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path

from workbench.urls import urlpatterns as workbench_urlpatterns

from ..models import Annotation, Segment

LIMIT_PATH = "__bench__/limit/"


def limit_view(request: HttpRequest) -> HttpResponse:
    """The least a view with the same database work can cost.

    ``reads`` primary-key SELECTs of segment rows through a plain cursor, and, with
    ``insert``, one INSERT of an annotation row (the table the save writes to, with
    its indexes and constraints). Same middleware, session and user as the real
    pages, so the ratio real / limit is what the page adds on top of the machine,
    the database and Django's request cycle.
    """
    params = request.POST if request.method == "POST" else request.GET
    reads = int(params.get("reads", "0"))
    ids = [int(value) for value in params.getlist("id")] or [0]
    table = connection.ops.quote_name(Segment._meta.db_table)
    with connection.cursor() as cursor:
        for number in range(reads):
            cursor.execute(
                f"SELECT id, text FROM {table} WHERE id = %s",  # noqa: S608 (own name)
                [ids[number % len(ids)]],
            )
            cursor.fetchone()
    if params.get("insert") == "1":
        Annotation.objects.bulk_create(
            [
                Annotation(
                    segment_id=int(params["segment"]),
                    article_id=int(params["article"]),
                    annotator=request.user,
                    values={"labels": {"claim": ["opinion"]}},
                )
            ]
        )
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path(LIMIT_PATH, limit_view, name="bench_limit"), *workbench_urlpatterns]
