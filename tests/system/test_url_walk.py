"""Every URL pattern, requested as every role: login, membership, role and blindness.

The resolver is walked (``workbench.urls`` with admin and the app), and each pattern
is filled with real ids: once with objects of the project the users work in (``own``)
and once with objects of another project (``other``). Each URL is requested as
anonymous, outsider (manager of the other project only), annotator, reviewer,
manager and superuser; annotators and outsiders also POST to every URL and request
every URL as an htmx request and with query parameters that name other people.

Rules checked on every response:
- anonymous: a redirect to a login page (except the public URLs listed below);
- never a 500; only 200/3xx/400/403/404/405;
- a member asking for an object of a project they are not in gets 404;
- blind annotation: annotator1's responses never contain anything annotator2 wrote
  (comment, source, cue), nor anything of the other project; the outsider's never
  contain anything of the own project;
- a POST by an annotator or outsider with an empty body changes nothing.
A URL pattern whose parameter cannot be filled fails the test: a new view cannot
escape the walk.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotations import services
from annotations.models import (
    Annotation,
    Article,
    Assignment,
    Dimension,
    ImportedSuggestion,
    ImportJob,
    Label,
    LabelScheme,
    Membership,
    Project,
    Role,
    Segment,
    Source,
    StanceTarget,
)
from annotations.services import AnnotationInput, AttributionInput, StanceInput
from tests import factories

ROLES = ("anonymous", "outsider", "annotator", "reviewer", "manager", "superuser")
# Reachable without login: the login pages, logout (it only ends a session), health.
PUBLIC = {"login", "logout", "healthz", "admin:login", "admin:logout"}
ALLOWED_STATUS = {200, 301, 302, 400, 403, 404, 405, 409, 422}
LOGIN_PREFIXES = ("/accounts/login/", "/admin/login/")


@dataclass
class World:
    """Two projects with users, articles, annotations and planted marker strings."""

    own: Project
    other: Project
    users: dict[str, object]
    annotator2: object
    article: dict[str, Article]
    segment: dict[str, Segment]
    annotation: dict[str, Annotation]  # own: annotator1's; other: the outsider's
    secret_annotation: Annotation  # annotator2's, on the same segment as annotator1's
    assignment: dict[str, Assignment]
    source: dict[str, Source]
    # Strings nobody but their owner (and reviewers/managers) may ever receive.
    annotator2_secrets: list[str] = field(default_factory=list)
    own_secrets: list[str] = field(default_factory=list)
    other_secrets: list[str] = field(default_factory=list)


def build_world(marker: str = "") -> World:
    """``marker`` is put into every free-text field (the escaping test uses markup)."""
    own = factories.ProjectFactory(slug="own", name=f"ZZOWN-PROJECT {marker}")
    other = factories.ProjectFactory(slug="other", name=f"ZZOTHER-PROJECT {marker}")
    annotator = factories.member(own, role=Role.ANNOTATOR, username="annotator1")
    annotator2 = factories.member(own, role=Role.ANNOTATOR, username="annotator2")
    reviewer = factories.member(own, role=Role.REVIEWER, username="reviewer")
    manager = factories.member(own, role=Role.MANAGER, username="manager")
    outsider = factories.member(other, role=Role.MANAGER, username="outsider")
    factories.member(other, role=Role.ANNOTATOR, username="other-annotator")
    superuser = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    users = {
        "anonymous": None,
        "outsider": outsider,
        "annotator": annotator,
        "reviewer": reviewer,
        "manager": manager,
        "superuser": superuser,
    }

    def article(project: Project, token: str) -> Article:
        return factories.make_article(
            project,
            text=f"{token}-TITLE {marker}\n\nVon {token} Byline {marker}\n\n"
            f"Der Sprecher sagte: „{token} Satz eins {marker}.“ "
            f"Die Regierung widersprach am 10. Mai. Ein dritter Satz folgt hier.\n",
        )

    articles = {"own": article(own, "ZZOWN"), "other": article(other, "ZZOTHER")}
    Article.objects.filter(pk__in=[a.pk for a in articles.values()]).update(
        outlet=f"Outlet {marker}"
    )
    segments = {
        side: a.segments.annotatable().order_by("position")[0]
        for side, a in articles.items()
    }

    def annotate(segment: Segment, user, token: str) -> Annotation:
        return services.save_annotation(
            segment=segment,
            annotator=user,
            payload=AnnotationInput(
                labels={"claim": ("checkworthy",), "frames": ("economic",)},
                attributions=(
                    AttributionInput(
                        source_text=f"{token}-SOURCE {marker}",
                        source_type="person",
                        form="direct",
                        cue_text=f"{token}-CUE {marker}",
                    ),
                ),
                stances=(StanceInput(target="russia", polarity="against", holder=0),),
                comment=f"{token}-COMMENT {marker}",
            ),
            expected_revision=None,
        )

    annotations = {
        "own": annotate(segments["own"], annotator, "ZZA1"),
        "other": annotate(segments["other"], outsider, "ZZOTHERANN"),
    }
    secret = annotate(segments["own"], annotator2, "ZZA2")
    assignments = {
        "own": Assignment.objects.create(article=articles["own"], annotator=annotator),
        "other": Assignment.objects.create(
            article=articles["other"], annotator=outsider
        ),
    }
    Assignment.objects.create(article=articles["own"], annotator=annotator2)
    for segment in segments.values():  # an imported suggestion on each side
        ImportedSuggestion.objects.create(
            segment=segment, origin="walk", source_text=f"{segment.text[:20]}"
        )
    for project in (own, other):  # an import job each, its file named like the project
        job = ImportJob.objects.create(project=project, state=ImportJob.State.DONE)
        job.files.create(
            position=0, name=f"{project.name}.jsonl", state="imported", articles=1
        )
    sources = {
        "own": Source.objects.get(project=own, name__startswith="ZZA1-SOURCE"),
        "other": Source.objects.get(
            project=other, name__startswith="ZZOTHERANN-SOURCE"
        ),
    }
    return World(
        own=own,
        other=other,
        users=users,
        annotator2=annotator2,
        article=articles,
        segment=segments,
        annotation=annotations,
        secret_annotation=secret,
        assignment=assignments,
        source=sources,
        annotator2_secrets=["ZZA2-COMMENT", "ZZA2-SOURCE", "ZZA2-CUE"],
        own_secrets=["ZZOWN-TITLE", "ZZOWN-PROJECT", "ZZA1-COMMENT", "ZZA1-SOURCE"],
        other_secrets=[
            "ZZOTHER-TITLE",
            "ZZOTHER-PROJECT",
            "ZZOTHERANN-COMMENT",
            "ZZOTHERANN-SOURCE",
        ],
    )


# --- the resolver ---------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    route: str  # the full route, e.g. "articles/<int:pk>/segments/<int:position>/"
    name: str  # "namespace:name", or "?" for unnamed

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")


def all_patterns() -> list[Pattern]:
    def walk(patterns, prefix: str, namespace: str):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                yield Pattern(
                    prefix + str(entry.pattern), namespace + (entry.name or "?")
                )

    return list(walk(get_resolver().url_patterns, "", ""))


_CONVERTER = re.compile(r"<(?:(?P<type>\w+):)?(?P<name>\w+)>")
_ADMIN_MODEL = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/")


def fill(pattern: Pattern, world: World, side: str) -> str | None:
    """The pattern as a path with ids of ``side``'s project; None: not fillable."""
    route = pattern.route
    if pattern.name == "admin:annotations_annotation_simple_history":
        annotation = world.annotation[side]
        history_id = annotation.history.order_by("history_id").first().history_id
        return f"/admin/annotations/annotation/{annotation.pk}/history/{history_id}/"
    if pattern.name == "admin:app_list":
        return "/admin/annotations/"
    if "(?P<url>" in route:  # the admin's catch-all
        return "/admin/no-such-page/"
    if "^" in route or "(?P" in route:
        raise AssertionError(f"add a filler for the regex URL {route!r}")

    def value(match: re.Match) -> str:
        name = match.group("name")
        before = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
        return str(_value(pattern, name, before, world, side))

    return "/" + _CONVERTER.sub(value, route)


def _value(pattern: Pattern, name: str, before: str, world: World, side: str):
    admin_model = _ADMIN_MODEL.match(pattern.route)
    if pattern.is_admin and name in ("object_id", "id") and admin_model:
        return _admin_object(admin_model["app"], admin_model["model"], world, side)
    if pattern.name == "admin:view_on_site":
        if name == "content_type_id":
            return ContentType.objects.get_for_model(Article).pk
        return world.article[side].pk
    by_segment = {
        "articles": world.article[side].pk,
        "article": world.article[side].pk,
        "segments": world.segment[side].position,
        "annotations": world.annotation[side].pk,
        "assignments": world.assignment[side].pk,
        "projects": world.own.slug if side == "own" else world.other.slug,
        "project": world.own.slug if side == "own" else world.other.slug,
        "team": world.own.slug if side == "own" else world.other.slug,
        "sources": world.source[side].pk,
        "users": world.annotator2.pk if side == "own" else world.users["outsider"].pk,
        "annotators": world.annotator2.pk
        if side == "own"
        else world.users["outsider"].pk,
    }
    by_name = {
        "article_id": world.article[side].pk,
        "article_pk": world.article[side].pk,
        "position": world.segment[side].position,
        "segment_id": world.segment[side].pk,
        "segment_pk": world.segment[side].pk,
        "annotation_id": world.annotation[side].pk,
        "slug": world.own.slug if side == "own" else world.other.slug,
        "project_slug": world.own.slug if side == "own" else world.other.slug,
        "project_id": (world.own if side == "own" else world.other).pk,
        "user_id": world.annotator2.pk if side == "own" else world.users["outsider"].pk,
        "annotator_id": world.annotator2.pk
        if side == "own"
        else world.users["outsider"].pk,
    }
    if name in by_name:
        return by_name[name]
    if name in ("pk", "id") and before in by_segment:
        return by_segment[before]
    if before in by_segment and name not in ("pk", "id"):
        return by_segment[before]
    raise AssertionError(f"add a filler for <{name}> in {pattern.route!r}")


def _admin_object(app: str, model: str, world: World, side: str):
    project = world.own if side == "own" else world.other
    objects = {
        ("annotations", "project"): project.pk,
        ("annotations", "membership"): Membership.objects.filter(project=project)
        .first()
        .pk,
        ("annotations", "stancetarget"): StanceTarget.objects.filter(project=project)
        .first()
        .pk,
        ("annotations", "source"): world.source[side].pk,
        ("annotations", "labelscheme"): LabelScheme.objects.first().pk,
        ("annotations", "dimension"): Dimension.objects.first().pk,
        ("annotations", "label"): Label.objects.first().pk,
        ("annotations", "article"): world.article[side].pk,
        ("annotations", "segment"): world.segment[side].pk,
        ("annotations", "annotation"): (
            world.secret_annotation if side == "own" else world.annotation["other"]
        ).pk,
        ("annotations", "assignment"): world.assignment[side].pk,
        ("annotations", "importjob"): ImportJob.objects.get(project=project).pk,
        ("annotations", "importedsuggestion"): ImportedSuggestion.objects.get(
            segment=world.segment[side]
        ).pk,
        ("auth", "user"): (
            world.annotator2 if side == "own" else world.users["outsider"]
        ).pk,
        ("auth", "group"): 1,
    }
    if app == "axes":
        return 1  # no attempts recorded: the admin answers "does not exist"
    if app == "django_tasks_database":
        # No task queued: "does not exist" (the task admin is the superusers').
        return "00000000-0000-0000-0000-000000000000"
    if (app, model) not in objects:
        raise AssertionError(f"add an admin filler for {app}.{model}")
    return objects[(app, model)]


def urls_to_walk(world: World) -> list[tuple[Pattern, str, str]]:
    """(pattern, side, path) for every pattern; parameterless ones once."""
    walked = []
    for pattern in all_patterns():
        if (
            "<" not in pattern.route
            and "(?P" not in pattern.route
            and "^" not in (pattern.route)
        ):
            walked.append((pattern, "none", "/" + pattern.route))
            continue
        for side in ("own", "other"):
            path = fill(pattern, world, side)
            if path is not None:
                walked.append((pattern, side, path))
    return walked


def client_for(world: World, role: str) -> Client:
    # A 500 is reported as a problem of the walk, not raised into the test.
    client = Client(raise_request_exception=False)
    if world.users[role] is not None:
        client.force_login(world.users[role])
    return client


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def request(client: Client, method: str, path: str, **extra):
    return getattr(client, method)(path, **extra)


# --- the walk ---------------------------------------------------------------------


@pytest.fixture
def world(db) -> World:
    return build_world()


def test_every_url_as_every_role_is_guarded(world):
    walked = urls_to_walk(world)
    problems: list[str] = []
    counted: Counter[str] = Counter()
    seen_by: dict[str, set[str]] = {role: set() for role in ROLES}
    for role in ROLES:
        for pattern, side, path in walked:
            if pattern.name in ("logout", "admin:logout"):
                continue  # GET is refused (405); logging out is POST-only in Django 6
            client = client_for(world, role)
            response = client.get(path)
            counted[role] += 1
            status = response.status_code
            where = f"{role} GET {path} ({pattern.name}) -> {status}"
            if status not in ALLOWED_STATUS:
                problems.append(where)
                continue
            if role == "anonymous":
                if pattern.name not in PUBLIC and pattern.route != "admin/login/":
                    location = response.get("Location", "")
                    if status != 302 or not location.startswith(LOGIN_PREFIXES):
                        problems.append(f"{where}: anonymous not sent to login")
                continue
            body = body_of(response)
            seen_by[role] |= {
                s for s in world.annotator2_secrets + world.own_secrets if s in body
            }
            member_of_own = role in ("annotator", "reviewer", "manager")
            foreign = (member_of_own and side == "other") or (
                role == "outsider" and side == "own"
            )
            if foreign and not pattern.is_admin and status == 405:
                # POST-only: the method check comes first and says nothing about the
                # object; the POST itself must answer 404.
                status = client.post(path).status_code
                where = f"{where}, POST -> {status}"
            if foreign and not pattern.is_admin and status != 404:
                problems.append(f"{where}: another project's object must answer 404")
            if role == "annotator":
                leaked = [
                    s
                    for s in world.annotator2_secrets + world.other_secrets
                    if s in body
                ]
                if leaked:
                    problems.append(f"{where}: annotator sees {leaked}")
            if member_of_own:
                leaked = [s for s in world.other_secrets if s in body]
                if leaked:
                    problems.append(f"{where}: member of own project sees {leaked}")
            if role == "outsider":
                leaked = [
                    s for s in world.own_secrets + world.annotator2_secrets if s in body
                ]
                if leaked:
                    problems.append(f"{where}: outsider sees {leaked}")
            sent_to_admin_login = status == 302 and response["Location"].startswith(
                "/admin/login/"
            )
            non_staff = role != "superuser" and pattern.name not in PUBLIC
            if pattern.is_admin and non_staff and not sent_to_admin_login:
                problems.append(f"{where}: non-staff must be sent to the admin login")
    total = sum(counted.values())
    print(
        f"\nURL walk: {len(walked)} URLs x {len(ROLES)} roles = {total} "
        f"GET requests {dict(counted)}"
    )
    assert not problems, "\n".join(problems)
    # Positive control: the planted strings do reach the people allowed to see them,
    # so their absence elsewhere means something.
    assert "ZZA2-COMMENT" in seen_by["superuser"]  # the admin shows every comment
    assert {"ZZOWN-TITLE", "ZZA1-COMMENT"} <= seen_by["annotator"]  # their own work


def test_annotator_and_outsider_never_receive_others_work_in_any_variant(world):
    """htmx requests, POSTs with empty bodies and query parameters naming other
    users or projects: no leak, no 500, and nothing stored."""
    walked = [w for w in urls_to_walk(world) if not w[0].is_admin]
    before = (
        sorted(Annotation.objects.values_list("pk", "revision", "comment")),
        Assignment.objects.count(),
        Source.objects.count(),
        Article.objects.count(),
    )
    problems: list[str] = []
    count = 0
    for role, forbidden in (
        ("annotator", world.annotator2_secrets + world.other_secrets),
        ("outsider", world.own_secrets + world.annotator2_secrets),
    ):
        foreign_slug = world.other.slug if role == "annotator" else world.own.slug
        for pattern, _side, path in walked:
            queries = (
                f"?annotator={world.annotator2.pk}&user={world.annotator2.pk}"
                f"&project={world.own.slug}&project={world.other.slug}&format=json",
                f"?project={foreign_slug}",
                # The export's own parameters, asking for other people's work.
                "?mode=annotations&format=csv&include_unlabelled=on"
                "&annotators=annotator2&annotators=annotator1",
                "?mode=segments&format=jsonl&include_unlabelled=on",
                "?mode=annotations&format=jsonl&codebook=json",
            )
            variants = [
                ("get", path, {"headers": {"hx-request": "true"}}),
                ("get", path + queries[0], {}),
                ("get", path + queries[1], {"headers": {"hx-request": "true"}}),
                *(("get", path + query, {}) for query in queries[2:]),
                ("post", path, {}),
                (
                    "post",
                    path,
                    {
                        "headers": {"hx-request": "true"},
                        "data": {
                            "annotator": world.annotator2.pk,
                            "revision": "1",
                            "comment": "x",
                        },
                    },
                ),
            ]
            for method, url, extra in variants:
                client = client_for(world, role)
                response = request(client, method, url, **extra)
                count += 1
                where = f"{role} {method.upper()} {url} ({pattern.name})"
                if response.status_code not in ALLOWED_STATUS:
                    problems.append(f"{where} -> {response.status_code}")
                leaked = [s for s in forbidden if s in body_of(response)]
                if leaked:
                    problems.append(f"{where}: leaks {leaked}")
    after = (
        sorted(Annotation.objects.values_list("pk", "revision", "comment")),
        Assignment.objects.count(),
        Source.objects.count(),
        Article.objects.count(),
    )
    print(f"\nURL walk variants (htmx, POST, query): {count} requests")
    assert not problems, "\n".join(problems)
    assert after == before


@pytest.mark.parametrize(
    ("role", "query", "status", "present", "absent"),
    [
        (
            "annotator",
            "mode=annotations&format=csv",
            200,
            ["ZZA1-COMMENT"],
            ["ZZA2-COMMENT", "ZZA2-SOURCE", "ZZA2-CUE", "annotator2"],
        ),
        (
            "annotator",
            "mode=annotations&format=jsonl&include_unlabelled=on",
            200,
            ["ZZA1-SOURCE"],
            ["ZZA2-", "annotator2"],
        ),
        (
            "annotator",
            "mode=annotations&format=csv&annotators=annotator2",
            403,
            [],
            ["ZZA2-"],
        ),
        ("annotator", "mode=segments&format=csv", 403, [], ["ZZA2-"]),
        (
            "reviewer",
            "mode=annotations&format=csv",
            200,
            ["ZZA1-COMMENT", "ZZA2-COMMENT", "ZZA2-SOURCE"],
            ["ZZOTHER"],
        ),
        ("outsider", "mode=annotations&format=csv", 404, [], ["ZZA1-", "ZZA2-"]),
    ],
    ids=[
        "own-csv",
        "own-jsonl",
        "ask-for-annotator2",
        "majority-labels",
        "reviewer-sees-all",
        "outsider",
    ],
)
def test_export_download_is_blind_for_annotators(
    world, role, query, status, present, absent
):
    client = client_for(world, role)
    url = reverse("annotations:export_download", args=[world.own.slug])
    response = client.get(f"{url}?{query}")
    body = body_of(response)
    assert response.status_code == status, body[:500]
    for text in present:
        assert text in body
    for text in absent:
        assert text not in body


def test_every_pattern_is_filled(world):
    """The walk covers the whole resolver: no pattern silently left out."""
    walked_patterns = {pattern for pattern, _side, _path in urls_to_walk(world)}
    assert walked_patterns == set(all_patterns())
    assert len(walked_patterns) > 100  # the admin alone has more


def test_the_users_are_who_the_walk_thinks(world):
    user_model = get_user_model()
    assert not user_model.objects.get(username="manager").is_staff
    assert Membership.objects.get(user__username="outsider").project == world.other
    assert not Membership.objects.filter(
        user__username="outsider", project=world.own
    ).exists()
