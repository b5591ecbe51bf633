"""Security: login throttling, escaping, CSP, CSRF, hostile form input, error pages.

Each test states the protection it proves and would fail without it: remove django-
axes and the sixth login succeeds; mark a field ``|safe`` and the raw markup shows up;
add an inline ``<script>`` or ``onclick=`` to a template and the scan finds it; make a
view ``csrf_exempt`` and the CSRF walk finds it; let a bad POST through and the fuzz
sees a changed annotation or a 500.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from annotations import services
from annotations.models import (
    Annotation,
    Article,
    Assignment,
    Dimension,
    Label,
    LabelScheme,
    Segment,
    Source,
    StanceTarget,
)
from annotations.services import AnnotationInput
from tests import factories
from tests.system.test_url_walk import (
    PUBLIC,
    ROLES,
    body_of,
    build_world,
    client_for,
    urls_to_walk,
)

# Playwright's sync API runs an event loop; Django would refuse DB access in it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_LINK = '<a href="javascript:alert(1)">x</a>'
XSS_MD = "[x](javascript:alert(1))"
HOSTILE = f"{XSS_SCRIPT}{XSS_IMG}{XSS_LINK}{XSS_MD}"
RAW_MARKUP = (XSS_SCRIPT, XSS_IMG, '<a href="javascript:')
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


# --- login throttling (django-axes) ---------------------------------------------


def login(client: Client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_sixth_login_with_the_right_password_is_refused_after_five_failures(annotator):
    client = Client()
    for attempt in range(4):
        response = login(client, "annotator1", f"wrong-{attempt}")
        assert response.status_code == 200  # the form again, with an error
    # The fifth failure reaches the limit and is answered with the lockout already.
    assert login(client, "annotator1", "wrong-4").status_code == 429
    response = login(client, "annotator1", factories.PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Locked means locked: the work list still sends to the login page.
    assert client.get(reverse("annotations:work_list")).status_code == 302


def test_locked_out_page_tells_nothing_about_the_password(annotator):
    client = Client()
    for attempt in range(5):
        login(client, "annotator1", f"wrong-{attempt}")
    right = login(client, "annotator1", factories.PASSWORD)
    wrong = login(client, "annotator1", "wrong-again")
    assert right.status_code == wrong.status_code == 429
    # A guesser cannot tell a hit: the pages differ only in their fresh CSRF token.
    assert without_tokens(right) == without_tokens(wrong)
    body = right.content.decode()
    assert factories.PASSWORD not in body
    assert "wrong-" not in body


def without_tokens(response) -> str:
    return re.sub(r"[A-Za-z0-9]{64}", "TOKEN", response.content.decode())


def test_failed_logins_are_recorded_without_the_password(annotator):
    from axes.models import AccessAttempt

    client = Client()
    for attempt in range(3):
        login(client, "annotator1", f"secret-guess-{attempt}")
    attempt = AccessAttempt.objects.get(username="annotator1")
    assert attempt.failures_since_start == 3
    assert "secret-guess" not in attempt.post_data
    assert "secret-guess" not in attempt.get_data


def test_lockout_is_per_username_and_address(annotator, reviewer):
    client = Client()
    for attempt in range(5):
        login(client, "annotator1", f"wrong-{attempt}")
    # Another account from the same address still logs in.
    assert login(Client(), "reviewer", factories.PASSWORD).status_code == 302
    # The same account from another address too.
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert login(other, "annotator1", factories.PASSWORD).status_code == 302


def test_axes_reset_unlocks_the_account(annotator):
    client = Client()
    for attempt in range(5):
        login(client, "annotator1", f"wrong-{attempt}")
    assert login(client, "annotator1", factories.PASSWORD).status_code == 429
    call_command("axes_reset", verbosity=0)
    assert login(client, "annotator1", factories.PASSWORD).status_code == 302


def test_admin_login_is_throttled_too(db):
    factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    url = reverse("admin:login")
    for attempt in range(5):
        client.post(url, {"username": "root", "password": f"wrong-{attempt}"})
    response = client.post(url, {"username": "root", "password": factories.PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


# --- templates: no inline script, no event handlers, no inline style -------------


def template_files() -> list[Path]:
    roots = [ROOT / "templates", *(ROOT / "annotations").glob("templates")]
    files = [path for root in roots for path in root.rglob("*.html")]
    assert files, "no templates found"
    return files


def template_problems(text: str) -> list[str]:
    problems = []
    for match in re.finditer(r"<script\b([^>]*)>", text, re.I):
        if not re.search(r"\bsrc\s*=", match.group(1)):
            problems.append(f"inline <script> at {match.start()}")
    for match in re.finditer(r"<[a-z][^>]*?\s(on[a-z]+)\s*=", text, re.I):
        problems.append(f"event handler {match.group(1)}= at {match.start()}")
    for match in re.finditer(r"<[a-z][^>]*?\sstyle\s*=", text, re.I):
        problems.append(f"inline style attribute at {match.start()}")
    for match in re.finditer(r"<[a-z][^>]*?\shx-on[:\-]", text, re.I):
        problems.append(f"hx-on (evaluated script) at {match.start()}")
    if JAVASCRIPT_URL.search(text):
        problems.append("javascript: URL")
    for match in re.finditer(r"\|\s*safe\b|{%\s*autoescape\s+off", text):
        problems.append(f"escaping switched off at {match.start()}")
    return problems


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.name)
def test_template_has_no_inline_script_event_handler_or_style(path):
    problems = template_problems(path.read_text())
    assert not problems, f"{path.relative_to(ROOT)}: {problems}"


@pytest.mark.parametrize(
    "sample",
    [
        "<script>alert(1)</script>",
        "<script type=module>go()</script>",
        '<button onclick="go()">x</button>',
        "<body onload=go()>",
        '<div style="color:red">x</div>',
        '<a href="javascript:go()">x</a>',
        '<div hx-on:click="go()">x</div>',
        "{{ text|safe }}",
        "{% autoescape off %}{{ text }}{% endautoescape %}",
    ],
)
def test_the_template_scan_finds_what_it_looks_for(sample):
    """The scan above is not blind: each forbidden form is caught."""
    assert template_problems(f"<p>{sample}</p>")
    assert not template_problems('<script src="/static/x.js" defer></script><p>ok</p>')


# --- CSP on every page -------------------------------------------------------------


def csp_problems(response) -> list[str]:
    if not response.get("Content-Type", "").startswith("text/html"):
        return []
    policy = response.get("Content-Security-Policy", "")
    if not policy:
        return ["no Content-Security-Policy header"]
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2]
        for part in policy.split(";")
        if part.strip()
    )
    script = directives.get("script-src", directives.get("default-src", ""))
    problems = []
    if "'unsafe-inline'" in script or "'unsafe-eval'" in script:
        problems.append(f"script-src allows inline/eval: {script}")
    if "*" in script.split() or "data:" in script:
        problems.append(f"script-src too wide: {script}")
    if "'none'" not in directives.get("object-src", ""):
        problems.append("object-src is not 'none'")
    if "'none'" not in directives.get("frame-ancestors", ""):
        problems.append("frame-ancestors is not 'none'")
    return problems


def page_requests(world, roles, *, htmx: bool):
    """GET every page a role can reach: admin pages as superuser only (the walk in
    test_url_walk proves everyone else is sent to the admin login), public pages only
    for anonymous; app pages also as htmx requests when ``htmx``."""
    for role in roles:
        client = client_for(world, role)
        for pattern, _side, path in urls_to_walk(world):
            if pattern.name in ("logout", "admin:logout"):
                continue
            if pattern.is_admin and role != "superuser" and pattern.name not in PUBLIC:
                continue
            if role == "anonymous" and pattern.name not in PUBLIC:
                continue
            variants = [{}]
            if htmx and not pattern.is_admin:
                variants.append({"headers": {"hx-request": "true"}})
            for extra in variants:
                yield role, pattern, path, client.get(path, **extra)


def test_every_html_page_has_a_strict_content_security_policy(db):
    world = build_world()
    problems, pages = [], 0
    for role, _pattern, path, response in page_requests(world, ROLES, htmx=True):
        if response.get("Content-Type", "").startswith("text/html"):
            pages += 1
        problems += [f"{role} {path}: {p}" for p in csp_problems(response)]
    print(f"\nCSP checked on {pages} HTML responses")
    assert pages > 100
    assert not problems, "\n".join(problems)


def test_error_pages_carry_the_policy_and_no_traceback(client, settings, annotator):
    settings.DEBUG = False
    client.force_login(annotator)
    for path in ("/no/such/page/", "/articles/999999/annotate/"):
        response = client.get(path)
        assert response.status_code == 404
        assert not csp_problems(response)
        body = response.content.decode()
        assert "Traceback" not in body
        assert "SELECT" not in body
        assert "settings" not in body.lower()


# --- escaping ----------------------------------------------------------------------


@pytest.fixture
def hostile_world(db):
    world = build_world(marker=HOSTILE)
    user_model = get_user_model()
    for user in (world.users["annotator"], world.annotator2):
        user_model.objects.filter(pk=user.pk).update(
            username=f"{user.username}{HOSTILE}"[:150], first_name=HOSTILE[:150]
        )
    # Names a manager may edit in the admin are shown on many pages too.
    Label.objects.filter(dimension__code="claim", code="checkworthy").update(
        name_de=f"Prüfwürdig {XSS_SCRIPT}", name_en=f"Check-worthy {XSS_SCRIPT}"
    )
    Dimension.objects.filter(code="frames").update(name_en=f"Frames {XSS_IMG}")
    StanceTarget.objects.filter(code="russia").update(
        name=f"Russland {XSS_SCRIPT}", question=f"Frage {XSS_IMG}?"
    )
    Source.objects.update(aliases=[HOSTILE])
    LabelScheme.objects.update(description=HOSTILE)
    # A javascript: URL that bypassed validation (e.g. written by an old import).
    Article.objects.update(url="javascript:alert(1)")
    return world


def test_hostile_text_renders_as_text_on_every_page(hostile_world):
    world = hostile_world
    problems: list[str] = []
    escaped_on: dict[str, set[str]] = {role: set() for role in ROLES}
    pages = 0
    for role, pattern, path, response in page_requests(world, ROLES, htmx=True):
        if not response.get("Content-Type", "").startswith("text/html"):
            continue  # JSON, CSV, Markdown: not rendered as HTML (nosniff is on)
        body = body_of(response)
        pages += 1
        where = f"{role} {path} ({pattern.name}, {response.status_code})"
        raw = [markup for markup in RAW_MARKUP if markup in body]
        if raw:
            problems.append(f"{where}: raw markup {raw}")
        if JAVASCRIPT_URL.search(body):
            problems.append(f"{where}: a javascript: URL in an attribute")
        if ESCAPED_SCRIPT in body:
            escaped_on[role].add(pattern.name)
    print(f"\nescaping checked on {pages} responses")
    assert not problems, "\n".join(problems)
    # The hostile strings were really shown (escaped) where people read them.
    expected = {
        "annotator": {"annotations:work_list", "annotations:annotate"},
        "reviewer": {"annotations:review"},
        "superuser": {
            "admin:annotations_article_changelist",
            "admin:annotations_article_change",
            "admin:annotations_annotation_change",
            "admin:annotations_source_changelist",
            "admin:auth_user_changelist",
        },
    }
    team_pages = {"annotations:team_dashboard", "annotations:team_agreement"}
    names = {pattern.name for pattern, _s, _p in urls_to_walk(world)}
    expected["manager"] = team_pages & names
    for role, wanted in expected.items():
        missing = (wanted & names) - escaped_on[role]
        assert not missing, f"{role}: escaped text not shown on {missing}"


def test_json_answers_are_json_with_nosniff(hostile_world):
    client = client_for(hostile_world, "annotator")
    article = hostile_world.article["own"]
    response = client.get(
        reverse("annotations:source_suggestions", args=[article.pk]), {"q": "z"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"


# --- CSRF on every state-changing request ------------------------------------------


def test_every_post_without_a_csrf_token_is_refused(db):
    world = build_world()
    before = state()
    problems, count = [], 0
    for role in ("annotator", "manager", "superuser"):
        client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        client.force_login(world.users[role])
        for pattern, _side, path in urls_to_walk(world):
            if pattern.is_admin and role != "superuser":
                continue  # the admin is the superuser's; others never reach a view
            variants = [{}]
            if not pattern.is_admin:
                variants.append({"headers": {"hx-request": "true"}})
            for extra in variants:
                response = client.post(
                    path, {"comment": "x", "dim-claim": "factual"}, **extra
                )
                count += 1
                if response.status_code != 403:
                    problems.append(f"{role} POST {path} -> {response.status_code}")
    print(f"\nCSRF: {count} POSTs without a token")
    assert not problems, "\n".join(problems)
    assert state() == before


def test_login_form_needs_the_csrf_token_too(annotator):
    client = Client(enforce_csrf_checks=True)
    response = login(client, "annotator1", factories.PASSWORD)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_the_same_save_with_the_token_header_goes_through(annotator, project):
    """Positive control for the CSRF walk: the 403 above is the missing token."""
    article = factories.make_article(project, n_sentences=2)
    segment = article.segments.annotatable()[0]
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    page = client.get(reverse("annotations:annotate", args=[article.pk]))
    token = page.cookies["csrftoken"].value
    url = reverse("annotations:save_annotation", args=[article.pk, segment.position])
    refused = client.post(url, {"dim-claim": "factual"})
    assert refused.status_code == 403
    saved = client.post(
        url,
        {"dim-claim": "factual"},
        headers={"x-csrftoken": token, "hx-request": "true"},
    )
    assert saved.status_code in (200, 302)
    assert Annotation.objects.filter(segment=segment, annotator=annotator).count() == 1


def state() -> tuple:
    return (
        sorted(Annotation.objects.values_list("pk", "revision", "comment")),
        Assignment.objects.count(),
        Article.objects.count(),
        Segment.objects.count(),
        Source.objects.count(),
        get_user_model().objects.count(),
    )


# --- the annotate form, fuzzed ----------------------------------------------------

OTHER_SCHEME_CODES = ["other_only", "fremd"]
FIELD_NAMES = [
    "dim-claim",
    "dim-frames",
    "dim-techniques",
    "dim-unknown",
    "dim-source_type",
    "dim-stance",
    "primary-frames",
    "primary-claim",
    "stance-russia",
    "stance-ukraine",
    "stance-b_target",
    "stance-",
    "holder-russia",
    "attr-count",
    "attr-0-source",
    "attr-0-source_type",
    "attr-0-form",
    "attr-0-cue",
    "attr-0-source_start",
    "attr-0-source_end",
    "attr-0-cue_spans",
    "attr-1-source",
    "unsure",
    "comment",
    "time_spent_ms",
    "revision",
    "go",
]
CODES = [
    "checkworthy",
    "factual",
    "opinion",
    "none",
    "economic",
    "morality",
    "against",
    "favor",
    "person",
    "direct",
    "inactive_code",
    *OTHER_SCHEME_CODES,
]
VALUES = st.one_of(
    st.sampled_from(CODES),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "1",
            "2",
            "-1",
            "3-9",
            "9-3",
            "0-99999",
            "abc",
            "1.5",
            "99999999999999999999",
            "null",
            "[]",
            "{}",
            "true",
        ]
    ),
    st.text(max_size=40),
    st.builds(
        lambda n, c: c * n,
        st.sampled_from([201, 301, 2001, 5001, 20000]),
        st.sampled_from(["Q", "ä", "\U0001f600"]),
    ),
)
POST_DATA = st.dictionaries(
    st.sampled_from(FIELD_NAMES),
    st.one_of(VALUES, st.lists(VALUES, min_size=2, max_size=3)),
    max_size=4,
)


FUZZ_OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_fuzz_outcomes():
    """Print how the fuzzed POSTs ended (shown with ``-s``, for the report)."""
    yield
    if FUZZ_OUTCOMES:
        print(f"\nannotate POST fuzz: {dict(FUZZ_OUTCOMES)}")


@pytest.fixture
def fuzz_target(db):
    """annotator1's saved annotation on a segment, and a foreign project's scheme."""
    world = build_world()
    other_scheme = LabelScheme.objects.create(slug="fremd", version="1", name="Fremd")
    dimension = Dimension.objects.create(
        scheme=other_scheme,
        code="claim",
        role="claim",
        name_de="B",
        name_en="B",
        kind="single",
    )
    for code in OTHER_SCHEME_CODES:
        Label.objects.create(dimension=dimension, code=code, name_de=code, name_en=code)
    world.other.scheme = other_scheme
    world.other.save()
    StanceTarget.objects.create(project=world.other, code="b_target", name="B")
    Label.objects.filter(dimension__code="claim", code="none").update(active=False)
    return world


@hypothesis_settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    base=st.sampled_from(["factual", "opinion", "checkworthy"]),
    mutations=POST_DATA,
    current_revision=st.booleans(),
    as_json=st.booleans(),
    htmx=st.booleans(),
)
def test_fuzzed_annotate_posts_are_refused_with_a_message_or_stored_validly(
    fuzz_target, base, mutations, current_revision, as_json, htmx
):
    """A valid save (claim label, the loaded revision) with random fields changed,
    added or replaced by hostile values: some are accepted, most refused."""
    world = fuzz_target
    annotator = world.users["annotator"]
    segment = world.segment["own"]
    url = reverse(
        "annotations:save_annotation", args=[segment.article_id, segment.position]
    )
    before = state()
    stored_before = Annotation.objects.get(segment=segment, annotator=annotator)
    data = {"dim-claim": base, **mutations}
    if current_revision:
        data["revision"] = str(stored_before.revision)
    headers = {}
    if as_json:
        headers["accept"] = "application/json"
    if htmx:
        headers["hx-request"] = "true"
    client = Client(raise_request_exception=False)
    client.force_login(annotator)
    response = client.post(url, data, headers=headers)
    status = response.status_code
    FUZZ_OUTCOMES[str(status)] += 1
    assert status in (200, 302, 400, 404, 409, 422), (status, data)
    body = body_of(response)
    stored = Annotation.objects.get(segment=segment, annotator=annotator)
    if status >= 400:
        # Refused: a message, and nothing stored anywhere.
        assert state() == before, data
        assert stored.values == stored_before.values
        if as_json:
            answer = response.json()
            assert answer.get("errors") or answer.get("message"), answer
        else:
            assert 'role="alert"' in body
        for secret in world.annotator2_secrets:
            assert secret not in body
        return
    # Accepted: exactly one new revision, made only of this project's scheme.
    assert str(stored_before.revision) == str(data.get("revision")), data
    assert stored.revision == stored_before.revision + 1
    codes = {code for codes in stored.values["labels"].values() for code in codes}
    allowed = set(
        Label.objects.filter(
            dimension__scheme=world.own.scheme, active=True
        ).values_list("code", flat=True)
    )
    assert codes <= allowed, codes
    assert not set(OTHER_SCHEME_CODES) & codes
    assert len(stored.comment) <= services.MAX_COMMENT_CHARS


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dim-claim": "other_only"}, "unknown or inactive"),
        ({"dim-claim": "none"}, "unknown or inactive"),  # deactivated
        ({"dim-unknown": "x", "dim-claim": "factual"}, "unknown or inactive dimension"),
        ({"dim-claim": ["factual", "opinion"]}, "takes one label"),
        ({"dim-claim": "factual", "stance-b_target": "favor"}, "stance target"),
        ({"dim-claim": "factual", "comment": "x" * 5001}, "5000"),
        (
            {"dim-claim": "factual", "attr-count": "1", "attr-0-source": "Q" * 201},
            "200 characters",
        ),
        (
            {
                "dim-claim": "factual",
                "attr-count": "1",
                "attr-0-source": "Q",
                "attr-0-cue": "c" * 301,
            },
            "300 characters",
        ),
        ({"dim-claim": "factual", "time_spent_ms": "abc"}, "time_spent_ms"),
        ({"dim-claim": "factual", "revision": "abc"}, "revision"),
        (
            {
                "dim-claim": "factual",
                "attr-count": "1",
                "attr-0-source": "Q",
                "attr-0-source_start": "0",
                "attr-0-source_end": "99999",
            },
            "outside",
        ),
        ({}, "required"),
    ],
    ids=[
        "other-project-label",
        "inactive-label",
        "unknown-dimension",
        "two-singles",
        "other-project-target",
        "long-comment",
        "long-source",
        "long-cue",
        "string-for-int",
        "string-revision",
        "span-outside",
        "missing-claim",
    ],
)
def test_each_kind_of_bad_post_is_refused_by_name_and_stores_nothing(
    fuzz_target, data, message
):
    world = fuzz_target
    segment = world.segment["own"]
    annotator = world.users["annotator"]
    stored = Annotation.objects.get(segment=segment, annotator=annotator)
    client = client_for(world, "annotator")
    before = state()
    response = client.post(
        reverse(
            "annotations:save_annotation", args=[segment.article_id, segment.position]
        ),
        {**data, "revision": data.get("revision", str(stored.revision))},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 422, response.content
    errors = " ".join(response.json()["errors"])
    assert message in errors, errors
    assert state() == before


def test_a_replayed_stale_revision_gets_a_conflict_with_the_stored_version(fuzz_target):
    world = fuzz_target
    segment = world.segment["own"]
    client = client_for(world, "annotator")
    url = reverse(
        "annotations:save_annotation", args=[segment.article_id, segment.position]
    )
    stored = Annotation.objects.get(segment=segment, annotator=world.users["annotator"])
    first = client.post(
        url,
        {"dim-claim": "factual", "revision": str(stored.revision)},
        headers={"accept": "application/json"},
    )
    assert first.status_code == 200
    before = state()
    replay = client.post(
        url,
        {"dim-claim": "opinion", "revision": str(stored.revision)},
        headers={"accept": "application/json"},
    )
    assert replay.status_code == 409
    answer = replay.json()
    assert answer["stored_revision"] == stored.revision + 1
    assert answer["stored"]["labels"] == {"claim": ["factual"]}
    assert state() == before


def test_service_refuses_an_oversized_source_name_before_the_database_does(
    project, annotator
):
    """Source names become Source rows (200 characters); PostgreSQL raised a
    DataError (a 500) for 201-300 characters before the service checked it."""
    segment = factories.make_article(project).segments.annotatable()[0]
    with pytest.raises(services.AnnotationRefused, match="limited to 200"):
        services.save_annotation(
            segment=segment,
            annotator=annotator,
            expected_revision=None,
            payload=AnnotationInput(
                labels={"claim": ("factual",)},
                attributions=(services.AttributionInput(source_text="Q" * 201),),
            ),
        )
    assert not Annotation.objects.exists()
    assert not Source.objects.filter(project=project).exists()


@hypothesis_settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(draw=st.data(), endpoint=st.sampled_from(["review_save", "team_assign"]))
def test_fuzzed_review_and_assign_posts_never_fail_or_cross_projects(
    fuzz_target, draw, endpoint
):
    """The reviewer's gold form and the manager's assignment form, with ids of the
    other project, unknown codes and wrong types: refused (nothing stored) or stored
    inside the own project only; never a 500."""
    world = fuzz_target
    own_ids = {
        "annotation": [world.annotation["own"].pk, world.secret_annotation.pk],
        "membership": list(world.own.memberships.values_list("pk", flat=True)),
        "article": [world.article["own"].pk],
    }
    other_ids = {
        "annotation": [world.annotation["other"].pk],
        "membership": list(world.other.memberships.values_list("pk", flat=True)),
        "article": [world.article["other"].pk],
    }
    ids = st.sampled_from(
        [str(i) for group in (own_ids, other_ids) for v in group.values() for i in v]
    )
    values = st.one_of(VALUES, ids, st.sampled_from(["gold", "none", "auto", "hand"]))
    fields = st.sampled_from(
        [
            "dim-claim",
            "dim-frames",
            "stance-russia",
            "stance-b_target",
            "sources",
            "revision",
            "mode",
            "overlap",
            "annotators",
            "articles",
            "all_articles",
        ]
    )
    data = draw.draw(
        st.dictionaries(
            fields, st.one_of(values, st.lists(values, max_size=3)), max_size=6
        )
    )
    htmx = draw.draw(st.booleans())
    if endpoint == "review_save":
        role = "reviewer"
        segment = world.segment["own"]
        url = reverse("annotations:review_save", args=[segment.article_id, segment.pk])
    else:
        role = "manager"
        url = reverse("annotations:team_assign", args=[world.own.slug])
    before = state()
    client = client_for(world, role)
    response = client.post(url, data, headers={"hx-request": "true"} if htmx else {})
    status = response.status_code
    FUZZ_OUTCOMES[f"{endpoint} {status}"] += 1
    assert status in (200, 302, 400, 404, 409, 422), (status, data)
    if status >= 400:
        assert state() == before, data
    # Whatever was stored stays inside the own project and its scheme.
    assert (
        not Assignment.objects.filter(
            article__project=world.own, annotator__memberships__project=world.other
        )
        .exclude(annotator__memberships__project=world.own)
        .exists()
    )
    assert (
        not Assignment.objects.filter(article=world.article["other"])
        .exclude(annotator=world.users["outsider"])
        .exists()
    )
    for gold in Annotation.objects.gold():
        codes = {c for cs in gold.values["labels"].values() for c in cs}
        assert not set(OTHER_SCHEME_CODES) & codes, gold.values
        assert gold.article.project == world.own


# --- in a real browser: CSP violations and script execution ------------------------


@pytest.mark.browser
def test_hostile_pages_run_no_script_and_break_no_policy_in_chromium(
    browser_page, live_server, hostile_world
):
    """Chromium enforces the CSP: a violation shows up as a console error, executed
    hostile markup as an alert dialog. Neither may happen on any page people use."""
    from tests.browser import login, screenshot

    world, page = hostile_world, browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    missing: list[str] = []
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and "404" in message.text
            and missing.append(message.location.get("url", ""))
        ),
    )
    own, article = world.own.slug, world.article["own"]
    annotation = world.secret_annotation
    pages = {
        "root": [
            reverse("annotations:work_list"),
            reverse("annotations:annotate", args=[article.pk]),
            reverse("annotations:review", args=[article.pk]),
            reverse("annotations:team_dashboard", args=[own]),
            reverse("annotations:team_agreement", args=[own]),
            reverse("annotations:team_assign", args=[own]),
            reverse("annotations:export") + f"?project={own}",
            reverse("admin:annotations_article_changelist"),
            reverse("admin:annotations_article_change", args=[article.pk]),
            reverse("admin:annotations_annotation_change", args=[annotation.pk]),
            reverse("admin:annotations_source_changelist"),
            reverse("admin:auth_user_changelist"),
        ],
    }
    world.users["superuser"].set_password(factories.PASSWORD)
    world.users["superuser"].save()
    login(page, live_server, "root")
    visited = 0
    for path in pages["root"]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        visited += 1
        if path == reverse("annotations:annotate", args=[article.pk]):
            screenshot(page, "security-hostile-annotate")
        if path == reverse("annotations:review", args=[article.pk]):
            screenshot(page, "security-hostile-review")
    assert visited == len(pages["root"])
    assert dialogs == [], dialogs
    violations = [e for e in page.console_errors if "Content Security Policy" in e]
    assert violations == [], violations
    # The admin's pages have no icon link, so Chromium asks for /favicon.ico (404):
    # cosmetic, and not what this test is about.
    assert [url for url in missing if not url.endswith("/favicon.ico")] == []
    errors = [e for e in page.console_errors if "404" not in e]
    assert errors == [], errors
