"""Prepare the load test database: ``create-db`` (no Django) and ``seed``.

    python loadtest/prepare.py create-db            # CREATE DATABASE if missing
    python loadtest/prepare.py seed --users 20 --articles 200 --out DIR

``seed`` replaces the project ``loadtest`` (and its ``load-*`` users) with a fresh
one: generated German articles imported through ``services.import_file``, one
annotator account per simulated user with a random password, every article in
every annotator's queue. It writes ``DIR/accounts.json`` for the locustfile.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PROJECT_SLUG = "loadtest"
USER_PREFIX = "load-"


def create_database(url: str) -> None:
    """Connect to the server's ``postgres`` database and create the target one."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit("DATABASE_URL has no database name")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def seed(*, users: int, articles: int, out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from annotations import services
    from annotations.bench import corpus as benchmark
    from annotations.models import (
        ANNOTATABLE_KINDS,
        Assignment,
        Membership,
        Project,
        Role,
        Segment,
    )
    from annotations.scheme_data import SEED_STANCE_TARGETS

    old = Project.objects.filter(slug=PROJECT_SLUG).first()
    if old is not None:
        benchmark.remove_project(old, user_prefix=USER_PREFIX)
    project = services.create_project(
        name="Load test",
        slug=PROJECT_SLUG,
        stance_targets=SEED_STANCE_TARGETS,
        description="Made by make loadtest; replaced at every run.",
    )
    config = benchmark.CorpusSpec(articles=articles, articles_per_file=100)
    for name, data in benchmark.corpus_files(config):
        result = services.import_file(project=project, name=name, data=data)
        if not result.ok:
            raise SystemExit(result.error)
    article_ids = list(project.articles.order_by("id").values_list("id", flat=True))
    positions: dict[int, list[int]] = {}
    for article_id, position in (
        Segment.objects.filter(article__project=project, kind__in=ANNOTATABLE_KINDS)
        .order_by("article_id", "position")
        .values_list("article_id", "position")
    ):
        positions.setdefault(article_id, []).append(position)
    accounts = []
    user_model = get_user_model()
    for number in range(1, users + 1):
        password = secrets.token_urlsafe(16)
        user = user_model(username=f"{USER_PREFIX}{number}")
        user.set_password(password)
        user.save()
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        Assignment.objects.bulk_create(
            Assignment(article_id=article_id, annotator=user, position=position)
            for position, article_id in enumerate(article_ids)
        )
        accounts.append(
            {"username": user.username, "password": password, "user_id": user.pk}
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "accounts.json").write_text(
        json.dumps({"positions": positions, "accounts": accounts}, indent=1)
    )
    print(
        f"seeded project {PROJECT_SLUG}: {len(article_ids)} articles, "
        f"{users} annotators"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("create-db")
    seed_parser = sub.add_parser("seed")
    seed_parser.add_argument("--users", type=int, default=20)
    seed_parser.add_argument("--articles", type=int, default=200)
    seed_parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.step == "create-db":
        create_database(os.environ["DATABASE_URL"])
    else:
        seed(users=args.users, articles=args.articles, out=args.out)


if __name__ == "__main__":
    main()
