"""Every bad input of the import is refused with a message and stores nothing.

Three doors lead to the same service: ``services.import_file`` (and ``import_path``),
the ``import_articles`` command, and the admin upload page. Each is tested here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError
from django.urls import reverse

from annotations import services
from annotations.importing import parse_file
from annotations.models import Article, Segment
from tests import factories

GOOD_TEXT = (
    "Eine Überschrift\n\nVon Erika Musterfrau\n\nDer erste Satz. Der zweite Satz.\n"
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def counts() -> tuple[int, int]:
    return Article.objects.count(), Segment.objects.count()


def jsonl(*rows: dict) -> bytes:
    return "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode()


BAD_FILES = [
    pytest.param("empty.txt", b"", "empty", id="empty"),
    pytest.param(
        "blank.txt", b" \n\t\r\n  \n", "empty or only whitespace", id="whitespace"
    ),
    pytest.param("bom-only.txt", b"\xef\xbb\xbf\n", "empty", id="bom-only"),
    pytest.param("boms.txt", b"\xef\xbb\xbf" * 3 + b" \n", "empty", id="bom-run-only"),
    pytest.param(
        "bom-title.txt",
        " \ufeff\n\nEin Satz.".encode(),
        "the title line (the first non-empty line) has no visible text",
        id="bom-only-title-line",
    ),
    pytest.param("photo.txt", PNG, "binary file", id="png-renamed-txt"),
    pytest.param("scan.md", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "binary file", id="pdf"),
    pytest.param(
        "latin1.txt",
        "Überschrift\n\nGrüße.".encode("latin-1"),
        "not valid UTF-8",
        id="invalid-utf8",
    ),
    pytest.param("nul.txt", b"Titel\n\nEin\x00Satz.", "NUL byte", id="nul-byte"),
    pytest.param(
        "utf16.txt", "Titel\n\nSatz.".encode("utf-16"), "NUL byte", id="utf16"
    ),
    pytest.param(
        "ctrl.txt",
        b"Titel\n\nEin\x1bSatz.",
        "control character U+001B",
        id="control-char",
    ),
    pytest.param(
        "notes.docx", b"PK\x03\x04", "unsupported file type .docx", id="suffix"
    ),
    pytest.param(
        "README", b"Titel\n\nSatz.", "unsupported file type (none)", id="no-suffix"
    ),
    pytest.param(
        "rows.jsonl",
        jsonl({"title": "T", "text": "Satz."}) + b"\n{not json",
        "line 2: not valid JSON",
        id="bad-json-line",
    ),
    pytest.param(
        "rows.jsonl",
        jsonl({"title": "T", "text": ""}),
        "row has no text",
        id="jsonl-no-text",
    ),
    pytest.param(
        "rows.jsonl", jsonl({"title": "T"}), "row has no text", id="jsonl-missing-text"
    ),
    pytest.param(
        "rows.jsonl",
        jsonl({"title": "T", "text": "   \n "}),
        "row has no text",
        id="jsonl-whitespace-text",
    ),
    pytest.param(
        "rows.jsonl", b'["title", "text"]', "must be a JSON object", id="jsonl-array"
    ),
    pytest.param(
        "rows.jsonl",
        jsonl({"title": "T", "text": 42}),
        "'text' must be text",
        id="jsonl-number-text",
    ),
    pytest.param(
        "rows.jsonl",
        b'{"title": "T", "text": "A \\ud800 B"}',
        "lone surrogate",
        id="jsonl-lone-surrogate",
    ),
    pytest.param(
        "rows.jsonl",
        jsonl({"title": "T", "text": "Satz.", "published": "gestern"}),
        "published must be an ISO date",
        id="jsonl-bad-date",
    ),
    pytest.param(
        "rows.jsonl",
        jsonl({"title": "T", "text": "Satz.", "url": "javascript:alert(1)"}),
        "url must start with http",
        id="jsonl-javascript-url",
    ),
    pytest.param("rows.csv", b"title,text\nT,\n", "row has no text", id="csv-no-text"),
    pytest.param(
        "rows.csv",
        'title,text\n" \ufeff",Satz.\n'.encode(),
        "row 2: the row has no title",
        id="csv-bom-only-title",
    ),
    pytest.param(
        "rows.csv",
        "title,text\nT,\ufeff \ufeff\n".encode(),
        "row 2: the row has no text",
        id="csv-bom-only-text",
    ),
    pytest.param(
        "rows.csv",
        b"title,body\nT,Satz.\n",
        "needs the columns title and text",
        id="csv-missing-column",
    ),
    pytest.param(
        "rows.csv", b'title,text\nT,"Satz.\n', "not valid CSV", id="csv-open-quote"
    ),
    pytest.param(
        "rows.csv",
        b"title,text\nT,Satz.,extra\n",
        "more cells than columns",
        id="csv-extra-cell",
    ),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_FILES)
def test_bad_file_is_refused_with_a_message_and_stores_nothing(
    project, name, data, message
):
    before = counts()
    result = services.import_file(project=project, name=name, data=data)
    assert not result.ok
    assert message in result.error
    assert result.error.startswith(name)
    assert (result.articles, result.segments, result.article_ids) == (0, 0, [])
    assert counts() == before


def test_a_bad_row_refuses_the_whole_file_even_after_good_rows(project):
    data = jsonl(
        {"title": "Gut", "text": "Ein guter Satz."}, {"title": "Leer", "text": ""}
    )
    result = services.import_file(project=project, name="mixed.jsonl", data=data)
    assert "mixed.jsonl line 2: the row has no text" in result.error
    assert counts() == (0, 0)


def test_files_have_no_size_limit_outside_the_web_upload(project, settings, tmp_path):
    """Files are streamed: the command line and the service import a file of any
    size; only the web upload has a (large) limit."""
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    path = tmp_path / "big.txt"
    path.write_text("Titel\n\n" + "Ein Satz. " * 20)
    result = services.import_path(project=project, path=path)
    assert result.ok, result.error
    assert counts() == (1, 21)
    rows = jsonl(*({"title": f"T{n}", "text": "Ein Satz."} for n in range(40)))
    assert len(rows) > 100
    assert services.import_file(project=project, name="rows.jsonl", data=rows).ok
    assert counts()[0] == 41


def test_article_over_the_character_limit_is_refused(project, settings):
    settings.IMPORT_MAX_ARTICLE_CHARS = 50
    result = services.import_file(
        project=project, name="long.txt", data=("Titel\n\n" + "Satz. " * 20).encode()
    )
    assert "the limit is 50" in result.error
    assert counts() == (0, 0)


def test_a_database_failure_mid_file_leaves_no_article_and_no_segment(
    project, monkeypatch
):
    """The file is one transaction: batches stored before the failure roll back."""
    monkeypatch.setattr(services, "IMPORT_BATCH_ARTICLES", 2)
    insert_rows = services._insert_rows
    calls = []

    def fail_on_the_second_batch(model, fields, rows):
        calls.append(model)
        if len(calls) == 2:
            raise IntegrityError("simulated failure while writing segments")
        insert_rows(model, fields, rows)

    monkeypatch.setattr(services, "_insert_rows", fail_on_the_second_batch)
    data = jsonl(*({"title": f"T{n}", "text": "Ein Satz."} for n in range(4)))
    result = services.import_file(project=project, name="four.jsonl", data=data)
    assert not result.ok
    assert "four.jsonl" in result.error
    assert len(calls) == 2  # the first batch was stored before the failure
    assert counts() == (0, 0)


def test_good_file_is_stored_exactly_with_offsets_into_the_text(project):
    data = b"\xef\xbb\xbf" + GOOD_TEXT.replace("\n", "\r\n").encode()
    result = services.import_file(project=project, name="good.txt", data=data)
    assert result.ok, result.error
    article = Article.objects.get(pk=result.article_ids[0])
    assert article.text == GOOD_TEXT  # BOM removed, CRLF normalised, nothing else
    assert (article.title, article.byline) == ("Eine Überschrift", "Erika Musterfrau")
    segments = list(article.segments.order_by("position"))
    assert result.segments == len(segments) == article.segment_count
    for segment in segments:
        assert segment.text == article.text[segment.start : segment.end]


def test_only_the_boms_at_the_start_of_the_file_are_removed():
    data = "\ufeff\ufeff\ufeffTitel\n\nEin\ufeffSatz.\n".encode()
    [draft] = parse_file(data, name="a.txt", max_bytes=1000, max_chars=1000)
    assert (draft.title, draft.text) == ("Titel", "Titel\n\nEin\ufeffSatz.\n")


def test_a_bom_in_a_csv_cell_is_kept_in_the_text_and_trimmed_from_the_title():
    data = 'title,text\n" \ufeffTitel\ufeff","\ufeffErster Satz."\n'.encode()
    [draft] = parse_file(data, name="rows.csv", max_bytes=1000, max_chars=1000)
    assert draft.title == "Titel"
    assert draft.text == "Titel\n\n\ufeffErster Satz."
    assert [s.text for s in draft.segments] == ["Titel", "\ufeffErster Satz."]


def test_duplicates_are_skipped_and_reimport_is_idempotent(project):
    first = services.import_file(project=project, name="a.txt", data=GOOD_TEXT.encode())
    assert (first.articles, first.duplicates) == (1, 0)
    before = counts()
    again = services.import_file(project=project, name="b.txt", data=GOOD_TEXT.encode())
    assert again.ok
    assert (again.articles, again.segments, again.duplicates) == (0, 0, 1)
    twice_in_one_file = jsonl(
        {"title": "Neu", "text": "Ein neuer Satz."},
        {"title": "Neu", "text": "Ein neuer Satz."},
    )
    rows = services.import_file(
        project=project, name="rows.jsonl", data=twice_in_one_file
    )
    assert (rows.articles, rows.duplicates) == (1, 1)
    assert counts()[0] == before[0] + 1


def test_the_same_text_may_live_in_two_projects(project):
    other = factories.ProjectFactory()
    services.import_file(project=project, name="a.txt", data=GOOD_TEXT.encode())
    result = services.import_file(project=other, name="a.txt", data=GOOD_TEXT.encode())
    assert result.articles == 1


# --- the import_articles command --------------------------------------------


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    (tmp_path / "good.txt").write_text(GOOD_TEXT)
    (tmp_path / "rows.jsonl").write_bytes(
        jsonl({"title": "Zeile", "text": "Ein Satz aus JSONL. Noch einer."})
    )
    (tmp_path / "photo.txt").write_bytes(PNG)
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "ignored.png").write_bytes(PNG)  # not a supported suffix: not collected
    return tmp_path


def run_import(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_articles", *args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    return status, out.getvalue(), err.getvalue()


def test_command_imports_good_files_reports_bad_ones_and_exits_1(project, corpus):
    status, out, err = run_import(str(corpus), "--project", project.slug)
    assert status == 1
    assert "imported 2 articles" in out
    assert out.strip().splitlines()[-1].endswith("skipped 0 duplicates, failed 2")
    assert "photo.txt: this is a binary file" in err
    assert "empty.md: the file is empty" in err
    assert "Traceback" not in out + err
    assert Article.objects.filter(project=project).count() == 2


def test_command_second_run_imports_nothing_and_summary_counts_duplicates(
    project, corpus
):
    (corpus / "photo.txt").unlink()
    (corpus / "empty.md").unlink()
    assert run_import(str(corpus), "--project", project.slug)[0] == 0
    before = counts()
    status, out, _ = run_import(str(corpus), "--project", project.slug)
    assert status == 0
    assert "imported 0 articles (0 segments), skipped 2 duplicates, failed 0" in out
    assert counts() == before


def test_command_quiet_prints_only_the_summary(project, corpus):
    (corpus / "photo.txt").unlink()
    (corpus / "empty.md").unlink()
    status, out, err = run_import(str(corpus), "--project", project.slug, "--quiet")
    assert status == 0
    assert out.strip().splitlines() == [
        f"imported 2 articles ({Segment.objects.count()} segments), "
        "skipped 0 duplicates, failed 0"
    ]
    assert err == ""


def test_command_with_a_missing_path_or_project_says_so(project, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no such file or folder"):
        call_command(
            "import_articles", str(tmp_path / "nope.txt"), "--project", project.slug
        )
    with pytest.raises(CommandError, match="no project with slug 'nope'"):
        call_command("import_articles", str(tmp_path), "--project", "nope")
    with pytest.raises(CommandError, match="no .txt, .md, .jsonl or .csv files"):
        call_command("import_articles", str(tmp_path), "--project", project.slug)
    assert counts() == (0, 0)


def test_command_imports_a_hostile_file_as_a_message_without_a_traceback(
    project, tmp_path
):
    (tmp_path / "deep.jsonl").write_text(
        json.dumps({"title": "Gut", "text": "Ein Satz."})
        + "\n"
        + "[" * 100_000
        + "]" * 100_000
        + "\n"
    )
    status, out, err = run_import(str(tmp_path), "--project", project.slug)
    assert status == 1
    assert "deep.jsonl line 2: the JSON is nested deeper than 8 levels" in err
    assert "Traceback" not in out + err
    assert counts() == (0, 0)


# --- the admin upload -------------------------------------------------------


def upload(name: str, data: bytes) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def shown(response) -> list[str]:
    """What a user is told after an upload: the messages, the form's errors and
    the job page's outcome of every file."""
    told = [str(message) for message in response.context["messages"]]
    if "form" in response.context:
        told.append(str(response.context["form"].errors))
    if "files" in response.context:
        told += [file.message for file in response.context["files"]]
    return told


@pytest.mark.parametrize(("name", "data", "message"), BAD_FILES)
def test_admin_upload_refuses_bad_file_with_a_message(
    admin_client, project, name, data, message
):
    response = admin_client.post(
        reverse("admin:annotations_article_import"),
        {"project": project.pk, "files": [upload(name, data)]},
        follow=True,
    )
    assert response.status_code == 200
    told = shown(response)
    # An empty upload is refused by Django's FileField: the form is shown again.
    assert any(message in m for m in told), told
    assert counts() == (0, 0)


def test_admin_upload_reports_duplicates(admin_client, project):
    url = reverse("admin:annotations_article_import")
    admin_client.post(
        url, {"project": project.pk, "files": [upload("a.txt", GOOD_TEXT.encode())]}
    )
    before = counts()
    response = admin_client.post(
        url,
        {"project": project.pk, "files": [upload("a.txt", GOOD_TEXT.encode())]},
        follow=True,
    )
    assert "a.txt: already imported, skipped" in shown(response)
    assert counts() == before


def test_admin_upload_is_refused_to_staff_without_add_permission(client, project):
    staff = factories.UserFactory(username="staff", is_staff=True)
    client.force_login(staff)
    response = client.post(
        reverse("admin:annotations_article_import"),
        {"project": project.pk, "files": [upload("a.txt", GOOD_TEXT.encode())]},
    )
    assert response.status_code in (302, 403)
    assert counts() == (0, 0)


def test_admin_upload_over_the_limit_is_refused_without_reading_it(
    admin_client, project, settings, monkeypatch
):
    from django.core.files.uploadedfile import InMemoryUploadedFile

    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    read = InMemoryUploadedFile.read  # a property returning the file's read

    def read_small_only(self):
        assert self.size <= 100, "an oversized upload was read"
        return read.fget(self)

    monkeypatch.setattr(InMemoryUploadedFile, "read", property(read_small_only))
    big = upload("big.txt", ("Titel\n\n" + "Ein Satz. " * 30).encode())
    small = upload("small.txt", b"Titel\n\nEin Satz.\n")
    response = admin_client.post(
        reverse("admin:annotations_article_import"),
        {"project": project.pk, "files": [big, small]},
        follow=True,
    )
    told = shown(response)
    assert any("big.txt" in m and "the limit is 100" in m for m in told), told
    assert any("small.txt: imported 1 article" in m for m in told), told
    assert Article.objects.get().source_file == "small.txt"


def test_admin_messages_keep_file_names_as_uploaded(admin_client, project):
    response = admin_client.post(
        reverse("admin:annotations_article_import"),
        {"project": project.pk, "files": [upload("binary.txt", PNG)]},
        follow=True,
    )
    html = response.content.decode()
    assert "binary.txt: import #" in html
    assert "binary.txt: this is a binary file" in html
    assert "Binary.txt" not in html
