"""Two saves of the same annotation at the same moment: one wins, the other is told.

Each save runs in its own thread with its own database connection and real
transactions. Both threads validate, meet at a barrier, and only then enter the
write transaction; the first one inside holds the lock (PostgreSQL ``SELECT ... FOR
UPDATE``, SQLite ``BEGIN IMMEDIATE``) and sleeps a little while holding it, so the
other one really waits on the lock instead of arriving late. Without the lock both
would read revision 1 and the later write would silently replace the earlier one:
these tests would then see two winners.

The races run in-process (``django_db(transaction=True)``) on both databases: the
SQLite test database is a file with the production settings (WAL, busy timeout,
IMMEDIATE), so a second writer waits for the lock as it does in a deployment. CI
runs both; nothing is skipped on either backend.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from annotations import services
from annotations.models import (
    Annotation,
    AnnotationLabel,
    Attribution,
    Project,
    Segment,
)
from annotations.services import AnnotationInput, AttributionInput, StaleRevision
from tests import factories

HOLD_LOCK_SECONDS = 0.3


@dataclass
class Outcome:
    annotation: Annotation | None = None
    stale: StaleRevision | None = None
    error: str = ""


def payload(claim: str, comment: str, source: str = "") -> AnnotationInput:
    attributions = (
        (AttributionInput(source_text=source, source_type="person"),) if source else ()
    )
    return AnnotationInput(
        labels={"claim": (claim,)}, attributions=attributions, comment=comment
    )


def race(monkeypatch, *, segment_id: int, user_ids: list[int], payloads, expected):
    """Run one save per payload, each in its own thread and connection."""
    barrier = threading.Barrier(len(payloads), timeout=30)
    validate = services._validate
    canonical_sources = services._canonical_sources

    def validate_then_wait(**kwargs):
        result = validate(**kwargs)
        barrier.wait()  # every save has validated; now all go for the write
        return result

    def hold_the_lock(*args, **kwargs):
        # Runs inside the write transaction, after the lock was taken.
        time.sleep(HOLD_LOCK_SECONDS)
        return canonical_sources(*args, **kwargs)

    monkeypatch.setattr(services, "_validate", validate_then_wait)
    monkeypatch.setattr(services, "_canonical_sources", hold_the_lock)
    outcomes = [Outcome() for _ in payloads]

    def save(outcome: Outcome, user_id: int, data: AnnotationInput) -> None:
        try:
            segment = Segment.objects.select_related("article__project").get(
                pk=segment_id
            )
            user = factories.UserFactory._meta.model.objects.get(pk=user_id)
            outcome.annotation = services.save_annotation(
                segment=segment,
                annotator=user,
                payload=data,
                expected_revision=expected,
            )
        except StaleRevision as stale:
            outcome.stale = stale
        except Exception as error:  # noqa: BLE001 (the test reports it)
            outcome.error = repr(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=save, args=(outcome, user_id, data))
        for outcome, user_id, data in zip(outcomes, user_ids, payloads, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if any(thread.is_alive() for thread in threads):
        return [Outcome(error="a save hung") for _ in payloads]
    return outcomes


# --- the scenarios: each returns plain facts, checked by the tests below ---------


def scenario_update(monkeypatch, segment: Segment, annotator, other) -> dict:
    first = services.save_annotation(
        segment=segment,
        annotator=annotator,
        payload=payload("factual", "original"),
        expected_revision=None,
    )
    outcomes = race(
        monkeypatch,
        segment_id=segment.pk,
        user_ids=[annotator.pk, annotator.pk],
        payloads=[
            payload("checkworthy", "tab A", source="Olaf Scholz"),
            payload("opinion", "tab B", source="Der Kreml"),
        ],
        expected=first.revision,
    )
    facts = summarise(outcomes)
    stored = Annotation.objects.get(segment=segment, annotator=annotator)
    facts["stored"] = {
        "revision": stored.revision,
        "comment": stored.comment,
        "values": stored.values,
        "label_rows": list(
            AnnotationLabel.objects.filter(annotation=stored).values_list(
                "label__code", flat=True
            )
        ),
        "source_rows": list(
            Attribution.objects.filter(annotation=stored).values_list(
                "source_text", flat=True
            )
        ),
        "history": stored.history.count(),
    }
    return facts


def scenario_first_save(monkeypatch, segment: Segment, annotator, other) -> dict:
    outcomes = race(
        monkeypatch,
        segment_id=segment.pk,
        user_ids=[annotator.pk, annotator.pk],
        payloads=[payload("checkworthy", "first A"), payload("opinion", "first B")],
        expected=None,
    )
    facts = summarise(outcomes)
    stored = Annotation.objects.filter(segment=segment, annotator=annotator)
    facts["stored_count"] = stored.count()
    facts["stored"] = {
        "revision": stored.first().revision,
        "comment": stored.first().comment,
        "label_rows": AnnotationLabel.objects.filter(annotation__in=stored).count(),
    }
    return facts


def scenario_two_annotators(monkeypatch, segment: Segment, annotator, other) -> dict:
    outcomes = race(
        monkeypatch,
        segment_id=segment.pk,
        user_ids=[annotator.pk, other.pk],
        payloads=[payload("checkworthy", "mine"), payload("opinion", "theirs")],
        expected=None,
    )
    facts = summarise(outcomes)
    facts["stored_count"] = Annotation.objects.filter(segment=segment).count()
    return facts


SCENARIOS = {
    "update": scenario_update,
    "first_save": scenario_first_save,
    "two_annotators": scenario_two_annotators,
}


def summarise(outcomes: list[Outcome]) -> dict:
    winners = [o.annotation for o in outcomes if o.annotation is not None]
    losers = [o.stale.current for o in outcomes if o.stale is not None]
    return {
        "errors": [o.error for o in outcomes if o.error],
        "winners": [{"comment": a.comment, "values": a.values} for a in winners],
        "losers_saw": [
            None
            if current is None
            else {
                "revision": current.revision,
                "comment": current.comment,
                "values": current.values,
            }
            for current in losers
        ],
    }


def make_world() -> tuple[Segment, object, object]:
    project = factories.ProjectFactory(scheme=factories.default_scheme())
    annotator = factories.member(project, role="annotator", username="annotator1")
    other = factories.member(project, role="annotator", username="annotator2")
    article = factories.make_article(project, n_sentences=2)
    return article.segments.annotatable().first(), annotator, other


def run_scenario(name: str, monkeypatch) -> dict:
    segment, annotator, other = make_world()
    return SCENARIOS[name](monkeypatch, segment, annotator, other)


# --- the tests ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_updates_one_wins_the_other_gets_the_winners_values(monkeypatch):
    facts = run_scenario("update", monkeypatch)
    assert facts["errors"] == []
    assert len(facts["winners"]) == 1, facts
    assert len(facts["losers_saw"]) == 1, facts
    winner, loser_saw, stored = (
        facts["winners"][0],
        facts["losers_saw"][0],
        facts["stored"],
    )
    # The loser is shown the winner's version: not its own, not the old one.
    assert loser_saw["revision"] == 2
    assert loser_saw["comment"] == winner["comment"] != "original"
    assert loser_saw["values"] == winner["values"]
    # Stored: the winner's write exactly once; nothing lost, nothing merged.
    assert stored["revision"] == 2
    assert stored["comment"] == winner["comment"]
    assert stored["values"] == winner["values"]
    assert stored["label_rows"] == winner["values"]["labels"]["claim"]
    assert stored["source_rows"] == [winner["values"]["attributions"][0]["source_text"]]
    assert stored["history"] == 2  # the create and one update, no third write


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_first_saves_create_one_annotation(monkeypatch):
    facts = run_scenario("first_save", monkeypatch)
    assert facts["errors"] == []
    assert (len(facts["winners"]), len(facts["losers_saw"])) == (1, 1), facts
    assert facts["stored_count"] == 1
    assert facts["stored"]["revision"] == 1
    assert facts["stored"]["comment"] == facts["winners"][0]["comment"]
    assert facts["losers_saw"][0] is not None
    assert facts["losers_saw"][0]["comment"] == facts["stored"]["comment"]
    assert facts["stored"]["label_rows"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_annotators_saving_one_segment_at_once_both_succeed(monkeypatch):
    """Different annotators never block each other's work (one annotation each)."""
    facts = run_scenario("two_annotators", monkeypatch)
    assert facts["errors"] == []
    assert len(facts["winners"]) == 2, facts
    assert facts["stored_count"] == 2


def test_a_replayed_stale_revision_is_refused_and_changes_nothing(project, annotator):
    segment = factories.make_article(project, n_sentences=2).segments.annotatable()[0]
    saved = services.save_annotation(
        segment=segment,
        annotator=annotator,
        payload=payload("factual", "v1"),
        expected_revision=None,
    )
    services.save_annotation(
        segment=segment,
        annotator=annotator,
        payload=payload("opinion", "v2"),
        expected_revision=saved.revision,
    )
    for replayed in (None, 1, 0, 3, 99):
        with pytest.raises(StaleRevision) as refused:
            services.save_annotation(
                segment=segment,
                annotator=annotator,
                payload=payload("checkworthy", "replayed"),
                expected_revision=replayed,
            )
        assert refused.value.current.comment == "v2"
    stored = Annotation.objects.get(segment=segment, annotator=annotator)
    assert (stored.revision, stored.comment) == (2, "v2")
    assert Project.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_tabs_saving_at_once_over_http_one_gets_a_conflict(
    live_server, monkeypatch
):
    """Real concurrent HTTP requests against the running server, each request
    thread with its own connection (on SQLite too: the test database is a file)."""
    segment, annotator, _other = make_world()
    first = services.save_annotation(
        segment=segment,
        annotator=annotator,
        payload=payload("factual", "original"),
        expected_revision=None,
    )
    session = Client()
    session.force_login(annotator)
    secret = "k" * 32  # a CSRF secret; the header carries the same value
    cookie = f"sessionid={session.cookies['sessionid'].value}; csrftoken={secret}"
    url = live_server.url + reverse(
        "annotations:save_annotation", args=[segment.article_id, segment.position]
    )
    barrier = threading.Barrier(2, timeout=30)
    validate, canonical_sources = services._validate, services._canonical_sources

    def validate_then_wait(**kwargs):
        result = validate(**kwargs)
        barrier.wait()
        return result

    def hold_the_lock(*args, **kwargs):
        time.sleep(HOLD_LOCK_SECONDS)
        return canonical_sources(*args, **kwargs)

    monkeypatch.setattr(services, "_validate", validate_then_wait)
    monkeypatch.setattr(services, "_canonical_sources", hold_the_lock)
    answers: dict[str, tuple[int, dict]] = {}

    def post(claim: str, comment: str) -> None:
        body = urlencode(
            {"dim-claim": claim, "comment": comment, "revision": first.revision}
        ).encode()
        request = Request(
            url,
            data=body,
            method="POST",
            headers={
                "Cookie": cookie,
                "X-CSRFToken": secret,
                "Accept": "application/json",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with urlopen(request, timeout=60) as response:
                answers[comment] = (response.status, json.loads(response.read()))
        except HTTPError as error:
            answers[comment] = (error.code, json.loads(error.read()))

    threads = [
        threading.Thread(target=post, args=("checkworthy", "tab A")),
        threading.Thread(target=post, args=("opinion", "tab B")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    statuses = sorted(status for status, _ in answers.values())
    assert statuses == [200, 409], answers
    winner = next(c for c, (status, _) in answers.items() if status == 200)
    _status, conflict = next(a for a in answers.values() if a[0] == 409)
    stored = Annotation.objects.get(segment=segment, annotator=annotator)
    assert stored.revision == first.revision + 1
    assert stored.comment == winner
    # The loser is shown the winner's stored version, and its own choice to redo.
    assert conflict["stored_revision"] == stored.revision
    assert conflict["stored"] == stored.values
    assert conflict["mine"]["comment"] != winner
