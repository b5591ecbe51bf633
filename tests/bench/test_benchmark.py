"""The bench command at a tiny size: every figure is there, the scratch data is gone.

No timing assertions: the numbers depend on the machine; what must hold is that the
bench measures every figure of issue 6 and leaves the database as it found it.
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from annotations.bench import runner
from annotations.models import Annotation, Article, Project, Segment

FIGURES = (
    "import",
    "save_throughput",
    "annotate_page",
    "save",
    "work_list",
    "work_list_last",
    "review",
    "agreement_page",
    "export_csv",
    "export_jsonl",
    "agreement",
)
LATENCIES = (
    "annotate_page",
    "save",
    "work_list",
    "work_list_last",
    "review",
    "agreement_page",
)


@pytest.fixture
def bench_json(db, tmp_path, settings):
    settings.DEBUG = False
    path = tmp_path / "bench.json"
    call_command(
        "bench",
        "--articles",
        "3",
        "--segments-per-article",
        "6",
        "--requests",
        "3",
        "--save-sample",
        "5",
        "--json",
        str(path),
    )
    return json.loads(path.read_text())


def test_bench_reports_every_figure_with_its_limit(bench_json):
    figures = bench_json["figures"]
    assert set(FIGURES) <= set(figures)
    for key in FIGURES:
        assert figures[key]["value"] is not None, key
    for key in LATENCIES:
        figure = figures[key]
        assert figure["p50"] <= figure["p95"] <= figure["p99"], key
        assert figure["limit_p95"] is not None, key
        assert figure["queries"] >= 1, key
    for key in ("export_csv", "export_jsonl"):
        assert figures[key]["limit"] > 0
        assert figures[key]["peak_memory_mb"] is not None
    assert figures["save"]["limit"] is not None


def test_bench_builds_the_corpus_it_was_asked_for(bench_json):
    corpus = bench_json["corpus"]
    assert corpus["articles"] == 3
    assert corpus["segments"] == 18
    assert corpus["annotations"] == corpus["annotatable_segments"] * 3
    assert corpus["annotations"] == (
        corpus["annotations_by_save_annotation"] + corpus["annotations_by_bulk_path"]
    )
    assert corpus["annotations_by_save_annotation"] == 5


def test_bench_removes_its_scratch_project_and_users(bench_json):
    assert not Project.objects.filter(slug__startswith=runner.SCRATCH_PREFIX).exists()
    assert (
        not get_user_model()
        .objects.filter(username__startswith=runner.SCRATCH_PREFIX)
        .exists()
    )
    assert not Article.objects.exists()
    assert not Segment.objects.exists()
    assert not Annotation.objects.exists()
    assert not Annotation.history.exists()


def test_bench_removes_the_scratch_project_when_a_step_fails(db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("export broke")

    monkeypatch.setattr(runner, "measure_exports", broken)
    with pytest.raises(RuntimeError, match="export broke"):
        call_command(
            "bench",
            "--articles",
            "2",
            "--segments-per-article",
            "4",
            "--requests",
            "1",
            "--save-sample",
            "2",
        )
    assert not Project.objects.exists()
    assert not Annotation.history.exists()


@pytest.mark.parametrize(
    ("flag", "value"), [("--articles", "0"), ("--annotators", "1"), ("--requests", "0")]
)
def test_bench_refuses_sizes_it_cannot_measure(db, flag, value):
    with pytest.raises(CommandError, match=flag):
        call_command("bench", flag, value)
    assert not Project.objects.exists()


def test_percentile_interpolates_between_ranks():
    samples = [float(n) for n in range(1, 101)]
    assert runner.percentile(samples, 0.5) == pytest.approx(50.5)
    assert runner.percentile(samples, 0.95) == pytest.approx(95.05)
    assert runner.percentile([3.0], 0.99) == 3.0


def test_remove_leftovers_removes_a_killed_runs_scratch_project(db):
    scratch = runner.create_scratch(runner.BenchConfig(annotators=2))
    real = Project.objects.create(name="Real", slug="real-project")
    call_command("bench", "--remove-leftovers")
    assert list(Project.objects.all()) == [real]
    assert (
        not get_user_model()
        .objects.filter(username__startswith=scratch.project.slug)
        .exists()
    )


def test_build_only_keeps_a_corpus_that_reuse_measures_again(db, tmp_path, settings):
    settings.DEBUG = False
    tiny = ["--articles", "2", "--segments-per-article", "5", "--save-sample", "3"]
    built_json, measured_json = tmp_path / "built.json", tmp_path / "measured.json"
    call_command("bench", *tiny, "--build-only", "--json", str(built_json))
    built = json.loads(built_json.read_text())
    assert set(built["figures"]) == {"import", "save_throughput"}
    (project,) = Project.objects.filter(slug__startswith=runner.SCRATCH_PREFIX)
    annotations = Annotation.objects.filter(segment__article__project=project).count()
    assert annotations == built["corpus"]["annotations"] > 0

    call_command(
        "bench",
        "--reuse",
        project.slug,
        "--requests",
        "2",
        "--json",
        str(measured_json),
    )
    measured = json.loads(measured_json.read_text())
    assert set(measured["figures"]) == set(FIGURES) - {"import", "save_throughput"}
    assert measured["corpus"]["annotations"] >= annotations
    assert Project.objects.filter(pk=project.pk).exists()  # still kept
    # Measured a second time, its saves send the revisions the first run left.
    call_command("bench", "--reuse", project.slug, "--requests", "2")
    call_command("bench", "--remove-leftovers")
    assert not Project.objects.exists()


def test_reuse_refuses_a_project_that_is_not_a_scratch_project(db):
    Project.objects.create(name="Real", slug="real-project")
    with pytest.raises(CommandError, match="not a scratch project"):
        call_command("bench", "--reuse", "real-project")
    assert Project.objects.filter(slug="real-project").exists()
    with pytest.raises(CommandError, match="bench-gone"):
        call_command("bench", "--reuse", "bench-gone")
