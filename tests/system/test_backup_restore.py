"""Backups restore to the same data: dumpdata/loaddata on any backend, pg_dump on PG.

The data is written through the real services (import, save_annotation, gold) with
hostile and non-Latin text, committed (``transaction=True``), dumped, and restored
into an *empty* database (a freshly migrated SQLite file, or a scratch PostgreSQL
database), where a subprocess prints the same snapshot (every row of every model of
the app, and the export file when the export command exists). The two must be
equal byte for byte.

Django's JSON encoder cuts timestamps to milliseconds; ``workbench.exact_json``
(the ``json`` format in SERIALIZATION_MODULES) keeps microseconds, so both backups
are compared exactly: without it the export's created/updated columns differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from annotations import services
from annotations.models import Label, Role
from annotations.services import AnnotationInput, AttributionInput, StanceInput
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<script>alert(1)</script> „Zitat“ \u05d0\u05d1 \U0001f600 =SUM(A1)"
# What the docs tell operators to run (docs/deploying-safely.md).
DUMPDATA_ARGS = [
    "annotations",
    "auth.user",
    "auth.group",
    "--natural-foreign",
    "--indent",
    "2",
]
SNAPSHOT_MODELS = [
    "auth.user",
    "annotations.labelscheme",
    "annotations.dimension",
    "annotations.label",
    "annotations.project",
    "annotations.membership",
    "annotations.stancetarget",
    "annotations.source",
    "annotations.article",
    "annotations.segment",
    "annotations.annotation",
    "annotations.annotationlabel",
    "annotations.attribution",
    "annotations.stanceentry",
    "annotations.assignment",
    "annotations.historicalannotation",
]


def snapshot() -> str:
    """Every row of the app's models (and users) in pk order, as one JSON string."""

    data = {}
    for label in SNAPSHOT_MODELS:
        model = apps.get_model(label)
        rows = model._default_manager.order_by("pk").values()
        data[label] = [dict(row) for row in rows]
        for field in model._meta.many_to_many:
            data[f"{label}.{field.name}"] = sorted(
                model._default_manager.filter(
                    **{f"{field.name}__isnull": False}
                ).values_list("pk", f"{field.name}__pk")
            )
    return json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True, ensure_ascii=False)


def export_text() -> str:
    """The export files (CSV and JSONL, both modes), written by the command."""
    files = []
    for fmt in ("csv", "jsonl"):
        for mode in ("annotations", "segments"):
            out = StringIO()
            call_command(
                "export_annotations",
                "--format",
                fmt,
                "--output",
                "-",
                "--project",
                "backup",
                "--mode",
                mode,
                "--include-unlabelled",
                stdout=out,
                stderr=StringIO(),
            )
            files.append(out.getvalue())
    return "\n=====\n".join(files)


RESTORED = """
import json, sys, django
django.setup()
from django.core.management import call_command
from tests.system import test_backup_restore as t
if sys.argv[1]:
    call_command("migrate", verbosity=0)
    call_command("loaddata", sys.argv[1], verbosity=0)
print(json.dumps({
    "snapshot": t.snapshot(),
    "export": t.export_text(),
}))
"""


def restored_view(database_url: str, fixture: str) -> dict:
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-c", RESTORED, fixture],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def build_corpus() -> None:
    """A small but complete project: every kind of row the app stores."""
    project = factories.ProjectFactory(slug="backup", name=f"Backup {HOSTILE}")
    annotator = factories.member(project, role=Role.ANNOTATOR, username="annotator1")
    other = factories.member(project, role=Role.ANNOTATOR, username="annotator2")
    reviewer = factories.member(project, role=Role.REVIEWER, username="reviewer")
    article = factories.make_article(
        project,
        text=f"Titel {HOSTILE}\n\nVon Erika Musterfrau\n\n"
        f"Der Minister sagte: „{HOSTILE}.“ Der Kreml widersprach.\n",
    )
    factories.AssignmentFactory(article=article, annotator=annotator, position=0)
    factories.AssignmentFactory(article=article, annotator=other, position=0)
    segments = list(article.segments.annotatable())
    saved = []
    for user, claim in ((annotator, "checkworthy"), (other, "opinion")):
        for segment in segments:
            first = services.save_annotation(
                segment=segment,
                annotator=user,
                payload=AnnotationInput(labels={"claim": ("factual",)}),
                expected_revision=None,
            )
            saved.append(
                services.save_annotation(
                    segment=segment,
                    annotator=user,
                    payload=AnnotationInput(
                        labels={"claim": (claim,), "frames": ("security_defense",)},
                        attributions=(
                            AttributionInput(
                                source_text=f"Der Minister {HOSTILE}",
                                source_type="person",
                                form="direct",
                            ),
                        ),
                        stances=(
                            StanceInput(target="russia", polarity="against"),
                            StanceInput(target="ukraine", polarity="favor", holder=0),
                        ),
                        unsure=user == other,
                        comment=f"Kommentar {HOSTILE}",
                        time_spent_ms=1234,
                    ),
                    expected_revision=first.revision,
                )
            )
    services.save_annotation(
        segment=segments[0],
        annotator=reviewer,
        payload=AnnotationInput(labels={"claim": ("checkworthy",)}, comment="gold"),
        expected_revision=None,
        is_gold=True,
        adjudicated_from=saved[:1],
    )
    # A label used by annotations and then deactivated stays in the backup.
    Label.objects.filter(dimension__code="frames", code="security_defense").update(
        active=False
    )


pytestmark = pytest.mark.django_db(transaction=True)


def test_dumpdata_restored_into_an_empty_database_gives_the_same_data(tmp_path):
    build_corpus()
    fixture = tmp_path / "backup.json"
    call_command("dumpdata", *DUMPDATA_ARGS, "--output", str(fixture), verbosity=0)
    expected = {
        "snapshot": snapshot(),
        "export": export_text(),
    }
    assert '"annotations.annotation": [{' in expected["snapshot"]  # not empty
    assert "Kommentar" in expected["export"]  # the export has the annotations

    restored = restored_view(f"sqlite:///{tmp_path / 'restored.sqlite3'}", str(fixture))
    assert restored["snapshot"] == expected["snapshot"]
    assert restored["export"] == expected["export"]


@pytest.mark.postgres
def test_pg_dump_restored_into_a_scratch_database_gives_the_same_data(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump needs PostgreSQL; CI runs this on its PostgreSQL pass")
    build_corpus()
    source = connection.settings_dict
    scratch = f"{source['NAME']}_restore"
    server = [
        "-h",
        source["HOST"] or "127.0.0.1",
        "-p",
        str(source["PORT"] or 5432),
        "-U",
        source["USER"] or "postgres",
    ]
    dump = tmp_path / "backup.dump"
    run(
        [
            "pg_dump",
            *server,
            "--format=custom",
            "--no-owner",
            "--file",
            str(dump),
            source["NAME"],
        ]
    )
    run(["dropdb", *server, "--if-exists", scratch])
    run(["createdb", *server, scratch])
    try:
        run(
            [
                "pg_restore",
                *server,
                "--no-owner",
                "--exit-on-error",
                "--dbname",
                scratch,
                str(dump),
            ]
        )
        user = source["USER"] or "postgres"
        url = f"postgres://{user}@{server[1]}:{server[3]}/{scratch}"
        restored = restored_view(url, "")
    finally:
        connection.close()  # nothing of ours may hold the scratch database open
        run(["dropdb", *server, "--if-exists", scratch])
    assert restored["snapshot"] == snapshot()
    assert restored["export"] == export_text()


def run(command: list[str]) -> None:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{command[0]}: {done.stderr}"
