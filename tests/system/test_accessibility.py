"""Every screen passes axe-core's WCAG 2.1 A and AA rules in Chromium: colour
contrast, names of links and controls, labels, landmarks, ARIA. The count must
stay 0 (axe-core through axe-playwright-python, which bundles it)."""

from __future__ import annotations

import os

import pytest
from axe_playwright_python.sync_playwright import Axe

from annotations import services
from annotations.models import Article
from tests import factories
from tests.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, login

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
}


@pytest.fixture
def world(transactional_db):
    project = services.ensure_seed_project()
    article = factories.make_article(project, n_sentences=4, title="Gipfel in Genf")
    anna = factories.member(project, role="annotator", username="annotator1")
    bert = factories.member(project, role="annotator", username="annotator2")
    factories.member(project, role="reviewer", username="reviewer")
    boss = factories.member(project, role="manager", username="manager")
    boss.is_staff = True
    boss.save()
    segments = list(article.segments.annotatable().order_by("position"))
    for user, claim in ((anna, "opinion"), (bert, "factual")):
        for segment in segments[:3]:
            factories.annotate(segment, user, claim=claim, stances={"russia": "favor"})
    return article


@pytest.fixture
def axe_page(live_server_pg_cleanup):
    """A page whose context lets axe-core's script in (the app's CSP allows only
    its own files)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        context.close()
        browser.close()


def violations(page) -> list[str]:
    results = Axe().run(page, options=WCAG)
    return [
        f"{v['id']} ({v['impact']}): "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in results.response["violations"]
    ]


@pytest.mark.browser
def test_every_screen_has_no_wcag_violations(world, live_server, axe_page, tmp_path):
    page = axe_page
    article = world
    project = Article.objects.get(pk=article.pk).project
    found: dict[str, list[str]] = {}
    page.goto(f"{live_server.url}/accounts/login/")
    found["login"] = violations(page)
    login(page, live_server, "annotator1")
    screens = {
        "work list": "/",
        "annotate": f"/articles/{article.pk}/annotate/",
        "export (annotator)": f"/export/?project={project.slug}",
    }
    for name, path in screens.items():
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        found[name] = violations(page)
    page.goto(f"{live_server.url}/articles/{article.pk}/annotate/")
    page.keyboard.press("/")
    page.keyboard.type("Pe")
    found["annotate, source field"] = violations(page)
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    found["annotate, guidelines"] = violations(page)
    page.context.clear_cookies()
    login(page, live_server, "manager")
    screens = {
        "team index": "/team/",
        "dashboard": f"/team/{project.slug}/",
        "assign": f"/team/{project.slug}/assign/",
        "agreement": f"/team/{project.slug}/agreement/",
        "review list": f"/team/{project.slug}/review/",
        "review": f"/articles/{article.pk}/review/",
        "export": f"/export/?project={project.slug}",
        "admin index": "/admin/",
        "admin articles": "/admin/annotations/article/",
        "admin import": "/admin/annotations/article/import/",
        "admin sources": "/admin/annotations/source/",
        "admin annotations": "/admin/annotations/annotation/",
    }
    for name, path in screens.items():
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        found[name] = violations(page)
    # An upload's job page (the tests run jobs at once), a refused file included.
    page.goto(f"{live_server.url}/admin/annotations/article/import/")
    good, bad = tmp_path / "meldung.txt", tmp_path / "tief.jsonl"
    good.write_text("Meldung\n\nEin Satz. Noch ein Satz.\n")
    bad.write_text("[" * 100 + "]" * 100)
    page.set_input_files("#id_files", [str(good), str(bad)])
    page.click("input[type=submit]")
    page.wait_for_selector(".job-state:text('Done')")
    found["admin import job"] = violations(page)
    page.goto(f"{live_server.url}/admin/annotations/importjob/")
    found["admin import jobs"] = violations(page)
    problems = {name: found_here for name, found_here in found.items() if found_here}
    assert problems == {}, problems
