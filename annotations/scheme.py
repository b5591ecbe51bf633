"""A project's label scheme as the pages, the save path and the export use it:
loaded once per request (``SchemeIndex.for_project``, 3 queries), then looked up
in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import (
    PER_SEGMENT_ROLES,
    Dimension,
    DimensionRole,
    Label,
    Project,
    StanceTarget,
)
from .snapshot import DimensionSpec


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
