"""bench_export on the command line: its scratch corpus, its measurements, its
measured child process."""

from __future__ import annotations

import csv
import io
import os

import pytest
from django.core.management import CommandError, call_command

from annotations.bench import export as bench_export
from annotations.export.cells import refresh_export_cells
from annotations.models import Annotation, AnnotationExportCells, Project


def test_bench_builds_exports_and_removes_its_scratch_project(db, scheme):
    before = Project.objects.count()
    out = io.StringIO()
    call_command("bench_export", "--rows", "250", stdout=out)
    text = out.getvalue()
    assert "250    csv" in text
    assert "250  jsonl" in text
    assert Project.objects.count() == before
    assert not Annotation.objects.exists()


def test_bench_scratch_data_exports_exactly_the_rows_asked_for(db, scheme):
    project = bench_export.build_scratch(333)
    try:
        assert Annotation.objects.filter(article__project=project).count() == 333
        # Bulk inserts leave no export cells: the bench refuses to time the
        # slow path as if it were the fast one.
        with pytest.raises(CommandError, match="333 rows had no fresh"):
            bench_export.measure(project, "csv", "/dev/null")
        assert refresh_export_cells(project) == 333
        measured = bench_export.measure(project, "csv", "/dev/null")
        assert measured["rows"] == 333
        assert measured["peak_mb"] > 0
        # Inside the test's transaction no other process sees the scratch data.
        assert measured["command_rss_mb"] is None
    finally:
        bench_export.remove_scratch(project)
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not AnnotationExportCells.objects.exists()


def test_bench_measures_a_real_export_process(transactional_db, scheme, tmp_path):
    project = bench_export.build_scratch(300)
    assert refresh_export_cells(project) == 300
    target = tmp_path / "export.csv"
    rss = bench_export.command_peak_rss_mb(project, "csv", str(target))
    # A whole Django process, as the operating system counts it.
    assert rss is not None
    assert rss > 20
    rows = list(csv.DictReader(target.open(encoding="utf-8-sig", newline="")))
    assert len(rows) == 300
    assert {row["project"] for row in rows} == {project.slug}


def test_bench_child_writes_to_stdout_not_to_the_null_device():
    """bench_export's measured child must not be handed /dev/null as a file name."""
    project = Project(slug="x")
    command = bench_export.measured_export_command(project, "csv", os.devnull)
    assert command[command.index("--output") + 1] == "-"
    assert command[command.index("--project") + 1] == "x"
    named = bench_export.measured_export_command(project, "csv", "/tmp/out.csv")
    assert named[named.index("--output") + 1] == "/tmp/out.csv"
