"""After a load test: is every save the clients saw acknowledged in the database?

    python loadtest/check_writes.py DIR

Each simulated annotator appended one line per acknowledged save to
``DIR/acks.tsv``: ``username<TAB>article_id<TAB>position<TAB>revision``. A save
is kept when the history table has that revision of that annotator's annotation
of that segment (django-simple-history writes one historical row per save, in
the same transaction), and the current annotation is at least at the highest
revision acknowledged. Exit status 1 if any acknowledged save is missing.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    if len(sys.argv) != 2:
        raise SystemExit("usage: check_writes.py DIR")
    acks_file = Path(sys.argv[1]) / "acks.tsv"
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from annotations.models import Annotation, Segment

    lines = acks_file.read_text().splitlines() if acks_file.exists() else []
    rows = [line.split("\t") for line in lines]
    article_ids = {int(row[1]) for row in rows}
    segment_of = {
        (article_id, position): pk
        for pk, article_id, position in Segment.objects.filter(
            article_id__in=article_ids
        ).values_list("pk", "article_id", "position")
    }
    acked: dict[tuple[str, int], set[int]] = defaultdict(set)
    for username, article_id, position, revision in rows:
        segment_id = segment_of[(int(article_id), int(position))]
        acked[(username, segment_id)].add(int(revision))
    total = sum(len(revisions) for revisions in acked.values())
    if not total:
        print("check_writes: no acknowledged saves to check (did the load test run?)")
        return 1
    users = dict(
        get_user_model()
        .objects.filter(username__in={username for username, _ in acked})
        .values_list("username", "pk")
    )
    segment_ids = {segment_id for _, segment_id in acked}
    stored = defaultdict(set)
    history = Annotation.history.filter(is_gold=False, segment_id__in=segment_ids)
    for segment_id, annotator_id, revision in history.values_list(
        "segment_id", "annotator_id", "revision"
    ).iterator(chunk_size=5000):
        stored[(annotator_id, segment_id)].add(revision)
    current = {
        (annotator_id, segment_id): revision
        for segment_id, annotator_id, revision in Annotation.objects.own()
        .filter(segment_id__in=segment_ids)
        .values_list("segment_id", "annotator_id", "revision")
    }
    missing = []
    for (username, segment_id), revisions in sorted(acked.items()):
        key = (users.get(username), segment_id)
        lost = sorted(revisions - stored[key])
        behind = current.get(key, 0) < max(revisions)
        if lost or behind:
            missing.append((username, segment_id, lost, current.get(key)))
    print(
        f"check_writes: {total} acknowledged saves of {len(acked)} annotations; "
        f"{total - sum(len(m[2]) for m in missing)} found in the database"
    )
    for username, segment_id, lost, now in missing[:20]:
        print(f"  LOST {username} segment {segment_id}: revisions {lost}, now {now}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
