import pytest

from tests import factories
from tests.browser import (  # noqa: F401  (shared Playwright fixtures)
    browser_page,
    live_server_pg_cleanup,
)


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # The agreement page caches per project; ids repeat between tests (rolled back).
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def scheme(db):
    return factories.default_scheme()


@pytest.fixture
def project(db, scheme):
    return factories.ProjectFactory(scheme=scheme)


@pytest.fixture
def annotator(db, project):
    return factories.member(project, role="annotator", username="annotator1")


@pytest.fixture
def reviewer(db, project):
    return factories.member(project, role="reviewer", username="reviewer")


@pytest.fixture
def manager(db, project):
    return factories.member(project, role="manager", username="manager")
