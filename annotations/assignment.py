"""Balanced assignment of articles to annotators with overlap. Plain Python, no Django.

"Each article by ``k`` of these ``n`` annotators": for every article (in the order
given) the annotators who already have it count toward its ``k``; the missing ones
are the least-loaded annotators, where load counts every assignment an annotator
already has (kept, never moved) plus those planned so far. Ties go to the annotator
listed first, so the same input always gives the same plan. Starting from equal
loads, every annotator ends within one article of ``n_articles * k / n_annotators``.

New queue positions are appended after each annotator's last position, in article
order, so an annotator's queue reads like the corpus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

type ArticleId = Hashable
type AnnotatorId = Hashable


class AssignmentError(ValueError):
    """The request cannot be planned as asked (nothing is assigned)."""


@dataclass(frozen=True, slots=True)
class PlannedAssignment:
    article: ArticleId
    annotator: AnnotatorId
    position: int


def plan_assignments(
    *,
    articles: Sequence[ArticleId],
    annotators: Sequence[AnnotatorId],
    overlap: int,
    existing: Iterable[tuple[ArticleId, AnnotatorId]] = (),
    last_positions: Mapping[AnnotatorId, int] | None = None,
) -> list[PlannedAssignment]:
    """The new assignments that give each article ``overlap`` of ``annotators``.

    ``existing`` holds the (article, annotator) pairs already stored (of the whole
    project, so an annotator's load counts work outside this selection too);
    ``last_positions`` the highest queue position per annotator. Raises
    ``AssignmentError`` for an overlap outside 1..len(annotators) or duplicate ids.
    Cost: O(articles * annotators).
    """
    if len(set(annotators)) != len(annotators):
        raise AssignmentError("an annotator is listed twice")
    if len(set(articles)) != len(articles):
        raise AssignmentError("an article is listed twice")
    if not annotators:
        raise AssignmentError("choose at least one annotator")
    if not 1 <= overlap <= len(annotators):
        raise AssignmentError(
            f"overlap must be between 1 and the number of annotators chosen "
            f"({len(annotators)}); got {overlap}"
        )
    chosen = set(annotators)
    rank = {annotator: i for i, annotator in enumerate(annotators)}
    holders: dict[ArticleId, set[AnnotatorId]] = {}
    load: Counter[AnnotatorId] = Counter()
    for article, annotator in existing:
        holders.setdefault(article, set()).add(annotator)
        load[annotator] += 1
    position = {a: (last_positions or {}).get(a, 0) for a in annotators}

    planned: list[PlannedAssignment] = []
    for article in articles:
        have = holders.get(article, set()) & chosen
        missing = overlap - len(have)
        if missing <= 0:
            continue
        candidates = sorted(
            (a for a in annotators if a not in have), key=lambda a: (load[a], rank[a])
        )
        for annotator in candidates[:missing]:
            load[annotator] += 1
            position[annotator] += 1
            planned.append(PlannedAssignment(article, annotator, position[annotator]))
    return planned
