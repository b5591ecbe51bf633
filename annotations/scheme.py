"""A project's label scheme as the pages, the save path and the export use it:
``SchemeIndex.for_project``, looked up in memory.

Kept across requests in each process, by the project row's ``scheme_revision``
(which every page already reads with the project): a page or a save whose
project row names a revision this process has loaded costs no query; another
revision loads the index (3 queries). Every change of what the index is made of
gives the projects a new revision (:func:`scheme_changed`): saving or deleting a
dimension, label or stance target and switching optional dimensions (signals,
connected in ``apps.py``), and the writes that send no signal call it
themselves (``QuerySet.update`` in the admin's label actions). So a change in
one process reaches every other one with the next project row they read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .models import (
    PER_SEGMENT_ROLES,
    Dimension,
    DimensionRole,
    Label,
    Project,
    StanceTarget,
    new_scheme_revision,
)
from .snapshot import DimensionSpec

# Indexes this process loaded, by (project, scheme, slug, scheme revision): the
# slug too, as the export renderer kept in ``derived`` names the project by it.
# The oldest goes first beyond CACHED_INDEXES (a few projects are in use at once).
CACHED_INDEXES = 64
_cache: dict[tuple, SchemeIndex] = {}
_cache_lock = threading.Lock()


@dataclass
class SchemeIndex:
    """A project's usable dimensions, labels and targets, looked up once per save."""

    dimensions: dict[str, Dimension]
    labels: dict[tuple[str, str], Label]
    by_role: dict[str, Dimension]
    targets: dict[str, StanceTarget]
    # What the export's plan is made of (export.queries.plan_from_index): every
    # label of the scheme, inactive ones and those of inactive or switched-off
    # dimensions too, and every target in order.
    plan_labels: list[Label] = field(default_factory=list)
    plan_targets: list[StanceTarget] = field(default_factory=list)
    enabled_optional: set[int] = field(default_factory=set)
    # Things derived from the index once per request (e.g. the export's label
    # renderer, export.cells.label_renderer), kept with it.
    derived: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def for_project(cls, project: Project) -> SchemeIndex:
        """The index of ``project`` as its row (as loaded) names it: no query when
        this process has it, else :meth:`load` (3 queries). Shared between
        requests: read it, never change it (``derived`` is for what follows from
        it alone)."""
        key = (project.pk, project.scheme_id, project.slug, project.scheme_revision)
        index = _cache.get(key)
        if index is None:
            index = cls.load(project)
            with _cache_lock:
                while len(_cache) >= CACHED_INDEXES:
                    del _cache[next(iter(_cache))]
                _cache[key] = index
        return index

    @classmethod
    def load(cls, project: Project) -> SchemeIndex:
        """Three queries: switched-on optional dimensions, the scheme's labels
        (with their dimension) and the stance targets."""
        enabled_optional = set(project.optional_dimensions.values_list("pk", flat=True))
        labels = list(Label.objects.of_scheme(project.scheme_id))
        dimensions: dict[str, Dimension] = {}
        label_index: dict[tuple[str, str], Label] = {}
        for label in labels:
            dimension = label.dimension
            if not dimension.is_enabled(enabled_optional):
                continue
            dimensions.setdefault(dimension.code, dimension)
            label_index[(dimension.code, label.code)] = label
        by_role = {}
        for dimension in dimensions.values():
            by_role.setdefault(dimension.role, dimension)
        all_targets = list(project.stance_targets.order_by("order", "id"))
        targets = {t.code: t for t in all_targets if t.active}
        return cls(
            dimensions,
            label_index,
            by_role,
            targets,
            plan_labels=labels,
            plan_targets=all_targets,
            enabled_optional=enabled_optional,
        )

    def label(self, dimension_code: str, code: str, errors: list[str], what: str):
        label = self.labels.get((dimension_code, code))
        if label is None or not label.active:
            errors.append(f"unknown or inactive {what} label {code!r}")
            return None
        return label

    def role_label(self, role: str, code: str, errors: list[str]) -> Label | None:
        dimension = self.by_role.get(role)
        if not code:
            return None
        if dimension is None:
            errors.append(f"this project's scheme has no {role} dimension")
            return None
        return self.label(dimension.code, code, errors, role.replace("_", " "))

    def specs(self) -> list[DimensionSpec]:
        """The columns of agreement and review: per-segment dimensions in scheme
        order, then stance per target (nominal)."""
        by_dimension: dict[str, list[tuple[str, str, str]]] = {}
        for (dimension_code, code), label in self.labels.items():
            if label.active:
                by_dimension.setdefault(dimension_code, []).append(
                    (code, label.name_en, label.key)
                )
        specs = [
            DimensionSpec(
                key=d.code,
                name=d.name_en,
                multi=d.is_multi,
                labels=tuple(by_dimension.get(d.code, ())),
                dimension=d.code,
            )
            for d in self.dimensions.values()
            if d.role in PER_SEGMENT_ROLES
        ]
        stance = self.by_role.get(DimensionRole.STANCE)
        if stance is not None:
            polarities = tuple(by_dimension.get(stance.code, ()))
            specs += [
                DimensionSpec(
                    key=f"stance:{t.code}",
                    name=f"Stance: {t.name}",
                    multi=False,
                    labels=polarities,
                    target=t.code,
                    target_key=t.key,
                )
                for t in sorted(self.targets.values(), key=lambda t: (t.order, t.pk))
            ]
        return specs


def scheme_changed(*, raw: bool = False, **_signal) -> None:
    """What an index is made of changed: every project gets a new
    ``scheme_revision`` (one UPDATE of the few project rows: a label or a
    dimension may be any project's), and this process forgets its indexes (a
    caller may still hold a project row read before the change). Also the
    receiver of the signals connected in ``apps.py``; not for rows loaded from a
    fixture (``raw``, ``loaddata``), whose projects come with the revisions that
    named them when they were dumped."""
    if raw:
        return
    Project.objects.update(scheme_revision=new_scheme_revision())
    forget_indexes()


def optional_dimensions_changed(action: str, **signal) -> None:
    """``m2m_changed`` of ``Project.optional_dimensions``."""
    if action in ("post_add", "post_remove", "post_clear"):
        scheme_changed()


def forget_indexes() -> None:
    with _cache_lock:
        _cache.clear()
