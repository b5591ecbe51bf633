import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests import factories
from tests.browser import (  # noqa: F401  (shared Playwright fixtures)
    browser_page,
    live_server_pg_cleanup,
)

# Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (loaded here, before any test
# module builds its @settings, which inherit from the loaded profile).
# - "ci" (the default; `make test`, CI): derandomized, so every run tries the same
#   examples and a test cannot fail at random; no example database, so a failure
#   saved on one machine is not replayed on another. Pin what fuzzing finds with
#   @example(...).
# - "fuzz" (`make fuzz`): random exploration with 10x the examples; failures are
#   kept in .hypothesis/ and replayed first on the next fuzz run.
# A test that sets max_examples scales it from the profile's (BUDGET in the test
# modules), so the fuzz profile runs every test longer. No deadline and no
# too_slow health check: timing on a shared machine is noise, not a finding
# (speed is measured by `manage.py bench`).
hypothesis_settings.register_profile(
    "ci",
    parent=hypothesis_settings.get_profile("default"),
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.register_profile(
    "fuzz",
    parent=hypothesis_settings.get_profile("default"),
    max_examples=1000,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def _media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _jobs_run_at_once(settings, _media_root) -> None:
    """Jobs run inside the request that queues them (django.tasks' immediate
    backend), and uploads are stored in a temporary MEDIA_ROOT. The tests of the
    worker (tests/services/test_import_jobs.py) switch to the database backend."""
    settings.TASKS = {
        "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}
    }
    settings.MEDIA_ROOT = _media_root


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


def pytest_sessionfinish(session) -> None:
    """Remove the SQLite test database's WAL and shared-memory files: Django
    deletes the database file, but the live server's request threads may still
    hold a connection then, and SQLite leaves those two beside it."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return
    for suffix in ("-wal", "-shm"):
        Path(f"{database['TEST']['NAME']}{suffix}").unlink(missing_ok=True)
