"""export_annotations on the command line."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import threading

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from annotations.export.writers import BOM
from annotations.models import Annotation
from tests import factories
from tests.export.test_round_trips import hostile_corpus


@pytest.fixture
def corpus(project, annotator):
    second = factories.member(project, role="annotator", username="annotator2")
    return hostile_corpus(project, [annotator, second])


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_annotations", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_csv_to_a_file_loads_in_pandas_and_writes_a_codebook(tmp_path, project, corpus):
    target = tmp_path / "corpus.csv"
    codebook = tmp_path / "codebook.md"
    out, _ = run(
        "--format",
        "csv",
        "--output",
        str(target),
        "--project",
        project.slug,
        "--codebook",
        str(codebook),
    )
    assert "exported" in out
    frame = pd.read_csv(target)
    assert len(frame) == Annotation.objects.own().count()
    assert target.read_bytes().startswith(BOM.encode("utf-8"))
    assert not (tmp_path / "corpus.csv.partial").exists()
    text = codebook.read_text(encoding="utf-8")
    assert "| `checkworthy`" in text
    assert "## Agreement" in text


def test_raw_csv_to_stdout_keeps_stored_values(project, corpus):
    out, err = run("--format", "csv", "--output", "-", "--raw")
    assert "exported" in err  # status on stderr, data alone on stdout
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert rows[0]["text"].startswith("=HYPERLINK(")


def test_jsonl_segments_with_unlabelled_rebuilds_the_text(tmp_path, project, corpus):
    target = tmp_path / "segments.jsonl"
    run(
        "--format",
        "jsonl",
        "--output",
        str(target),
        "--mode",
        "segments",
        "--include-unlabelled",
    )
    rows = [
        json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()
    ]
    assert [row["position"] for row in rows] == list(range(corpus.segment_count))
    for row in rows:
        assert corpus.text[row["start"] : row["end"]] == row["text"]


def test_annotators_and_pseudonyms(tmp_path, project, corpus):
    out, _ = run(
        "--format",
        "csv",
        "--output",
        "-",
        "--raw",
        "--annotators",
        "annotator2",
        "--pseudonymise",
    )
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert rows
    assert len({row["annotator"] for row in rows}) == 1
    assert rows[0]["annotator"].startswith("ann_")
    assert "annotator2" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "csv", "--project", "nope"], "no project with slug 'nope'"),
        (
            ["--format", "csv", "--annotators", "ghost"],
            r"unknown annotator\(s\): ghost",
        ),
        (["--format", "csv", "--annotators", " , "], "needs at least one username"),
        (["--format", "jsonl", "--raw"], "--raw applies to CSV only"),
    ],
)
def test_bad_input_is_refused_with_a_message(tmp_path, project, corpus, args, message):
    target = tmp_path / "x.csv"
    with pytest.raises(CommandError, match=message):
        run(*args, "--output", str(target))
    assert not target.exists()


def test_missing_output_folder_is_refused(project, corpus):
    with pytest.raises(CommandError, match="does not exist"):
        run("--format", "csv", "--output", "/nonexistent/dir/x.csv")


def test_several_projects_need_a_project_option(project, corpus):
    factories.ProjectFactory()
    with pytest.raises(CommandError, match="choose one with --project"):
        run("--format", "csv", "--output", "-")


def test_output_to_a_named_pipe_is_written_in_place(project, corpus, tmp_path):
    """A device or pipe (``/dev/null``, ``/dev/stdout``, a FIFO) is written to, never
    renamed over: the FILE.partial route would replace the device with a file."""
    pipe = tmp_path / "export.pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(
        target=lambda: received.append(pipe.read_bytes()), daemon=True
    )
    reader.start()
    try:
        run("--format", "csv", "--raw", "--output", str(pipe))
    finally:
        reader.join(timeout=30)
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert not (tmp_path / "export.pipe.partial").exists()
    rows = list(csv.DictReader(io.StringIO(received[0].decode("utf-8"), newline="")))
    assert len(rows) == Annotation.objects.own().count()
