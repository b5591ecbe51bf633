"""The pure assignment planner: overlap, balance, determinism, existing work kept."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotations.assignment import AssignmentError, PlannedAssignment, plan_assignments


def loads(plan) -> Counter:
    return Counter(item.annotator for item in plan)


def test_each_article_by_two_of_five_annotators_is_balanced():
    articles = list(range(1, 11))
    plan = plan_assignments(articles=articles, annotators="ABCDE", overlap=2)
    per_article = Counter(item.article for item in plan)
    assert per_article == dict.fromkeys(articles, 2)
    assert set(loads(plan).values()) == {4}  # 10 * 2 / 5
    pairs = {(i.article, i.annotator) for i in plan}
    assert len(pairs) == len(plan)  # nobody gets an article twice


def test_ties_go_to_the_annotator_listed_first():
    plan = plan_assignments(articles=[7, 8, 9], annotators=["x", "y", "z"], overlap=2)
    assert [(i.article, i.annotator) for i in plan] == [
        (7, "x"),
        (7, "y"),
        (8, "z"),
        (8, "x"),
        (9, "y"),
        (9, "z"),
    ]


def test_existing_assignments_are_kept_and_counted():
    # "a" already holds article 1 and three other articles: it gets nothing new.
    existing = [(1, "a"), (90, "a"), (91, "a"), (92, "a")]
    plan = plan_assignments(
        articles=[1, 2, 3], annotators=["a", "b", "c"], overlap=2, existing=existing
    )
    assert [(i.article, i.annotator) for i in plan] == [
        (1, "b"),
        (2, "c"),
        (2, "b"),
        (3, "c"),
        (3, "b"),
    ]
    assert loads(plan)["a"] == 0
    assert Counter(i.article for i in plan) == {1: 1, 2: 2, 3: 2}


def test_an_article_already_at_its_overlap_gets_nobody_new():
    plan = plan_assignments(
        articles=[1], annotators=["a", "b"], overlap=1, existing=[(1, "b")]
    )
    assert plan == []


def test_queue_positions_are_appended_in_article_order():
    plan = plan_assignments(
        articles=[30, 10, 20], annotators=["a"], overlap=1, last_positions={"a": 4}
    )
    assert plan == [
        PlannedAssignment(30, "a", 5),
        PlannedAssignment(10, "a", 6),
        PlannedAssignment(20, "a", 7),
    ]


@pytest.mark.parametrize(
    ("annotators", "overlap", "message"),
    [
        (["a", "b"], 3, "between 1 and"),
        (["a", "b"], 0, "between 1 and"),
        ([], 1, "at least one annotator"),
        (["a", "a"], 1, "listed twice"),
    ],
)
def test_impossible_requests_are_refused(annotators, overlap, message):
    with pytest.raises(AssignmentError, match=message):
        plan_assignments(articles=[1], annotators=annotators, overlap=overlap)


@given(
    n_articles=st.integers(0, 40),
    n_annotators=st.integers(1, 8),
    data=st.data(),
)
def test_fresh_plans_cover_every_article_and_differ_by_at_most_one(
    n_articles, n_annotators, data
):
    overlap = data.draw(st.integers(1, n_annotators))
    annotators = [f"u{i}" for i in range(n_annotators)]
    articles = list(range(n_articles))
    plan = plan_assignments(articles=articles, annotators=annotators, overlap=overlap)
    assert Counter(i.article for i in plan) == dict.fromkeys(articles, overlap)
    counts = [loads(plan)[a] for a in annotators]
    assert max(counts) - min(counts) <= 1
    assert sum(counts) == n_articles * overlap
    again = plan_assignments(articles=articles, annotators=annotators, overlap=overlap)
    assert again == plan


@given(
    existing=st.lists(
        st.tuples(st.integers(0, 15), st.sampled_from("abcd")), max_size=30
    ),
    overlap=st.integers(1, 4),
)
def test_with_existing_work_every_article_reaches_its_overlap_without_duplicates(
    existing, overlap
):
    existing = list(dict.fromkeys(existing))
    plan = plan_assignments(
        articles=list(range(16)), annotators="abcd", overlap=overlap, existing=existing
    )
    pairs = {(i.article, i.annotator) for i in plan}
    assert len(pairs) == len(plan)
    assert not pairs & set(existing)
    for article in range(16):
        holders = {a for art, a in existing if art == article} | {
            a for art, a in pairs if art == article
        }
        before = {a for art, a in existing if art == article}
        assert len(holders) == max(overlap, len(before))
