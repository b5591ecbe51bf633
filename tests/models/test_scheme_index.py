"""``SchemeIndex.for_project`` is kept per process by the project row's
``scheme_revision``: no query while the revision holds, and every change of what
an index is made of (labels, dimensions, stance targets, switched-on optional
dimensions) gives the projects a new revision in the database, so a process that
kept an older index (another gunicorn worker) loads the new one with the next
project row it reads."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import transaction
from django.urls import reverse

from annotations import scheme as scheme_module
from annotations.models import Dimension, Label, Project, StanceTarget
from annotations.scheme import SchemeIndex
from tests import factories


def fresh(project: Project) -> Project:
    """The project row as the next request reads it."""
    return Project.objects.get(pk=project.pk)


def test_the_index_is_loaded_once_per_scheme_revision(
    project, django_assert_num_queries
):
    with django_assert_num_queries(3):
        first = SchemeIndex.for_project(project)
    row = fresh(project)
    with django_assert_num_queries(0):
        assert SchemeIndex.for_project(row) is first
    other = factories.ProjectFactory(scheme=project.scheme)
    with django_assert_num_queries(3):
        assert SchemeIndex.for_project(other) is not first


def _rename_label(project):
    label = factories.label(project, "claim", "opinion")
    label.name_en = "Changed"
    label.save()


def _deactivate_dimension(project):
    dimension = Dimension.objects.get(scheme=project.scheme, code="frames")
    dimension.active = False
    dimension.save()


def _delete_label(project):
    Label.objects.filter(
        dimension__scheme=project.scheme, dimension__code="frames", code="other"
    ).delete()


def _add_target(project):
    StanceTarget.objects.create(project=project, code="china", name="China")


def _delete_target(project):
    project.stance_targets.get(code="nato").delete()


def _switch_on_optional(project):
    project.optional_dimensions.add(
        Dimension.objects.get(scheme=project.scheme, code="subjectivity")
    )


def _switch_off_optional(project):
    project.optional_dimensions.clear()


CHANGES = {
    "label renamed": (_rename_label, lambda i: i.labels[("claim", "opinion")].name_en),
    "dimension switched off": (
        _deactivate_dimension,
        lambda i: "frames" in i.dimensions,
    ),
    "label deleted": (_delete_label, lambda i: ("frames", "other") in i.labels),
    "target added": (_add_target, lambda i: sorted(i.targets)),
    "target deleted": (_delete_target, lambda i: sorted(i.targets)),
    "optional dimension on": (_switch_on_optional, lambda i: sorted(i.dimensions)),
    "optional dimension off": (_switch_off_optional, lambda i: sorted(i.dimensions)),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_of_the_scheme_gives_a_new_revision(project, change):
    make, seen = CHANGES[change]
    if make is _switch_off_optional:
        _switch_on_optional(project)
    before = SchemeIndex.for_project(fresh(project))
    revision = fresh(project).scheme_revision
    make(project)
    row = fresh(project)
    assert row.scheme_revision != revision
    after = SchemeIndex.for_project(row)
    assert seen(after) != seen(before)
    assert seen(after) == seen(SchemeIndex.load(row))


def test_a_change_made_in_another_process_reaches_this_one(project):
    """This process keeps its index; the change is made elsewhere (so nothing
    here forgets it): the next project row read names the new revision."""
    kept = SchemeIndex.for_project(fresh(project))
    before = fresh(project)
    with mock.patch.object(scheme_module, "forget_indexes"):
        _rename_label(project)
    # A row read before the change still names what was true when it was read.
    assert SchemeIndex.for_project(before) is kept
    now = SchemeIndex.for_project(fresh(project))
    assert now.labels[("claim", "opinion")].name_en == "Changed"


def test_the_admin_label_actions_give_a_new_revision(admin_client, project):
    label = factories.label(project, "frames", "other")
    revision = fresh(project).scheme_revision
    SchemeIndex.for_project(fresh(project))
    admin_client.post(
        reverse("admin:annotations_label_changelist"),
        {"action": "deactivate", "_selected_action": [label.pk]},
    )
    assert fresh(project).scheme_revision != revision
    assert (
        not SchemeIndex.for_project(fresh(project)).labels[("frames", "other")].active
    )


def test_a_change_rolled_back_never_names_a_revision_again(project):
    """Revisions are random, not counted: an index loaded inside a transaction
    that was rolled back is never taken for a later change's."""
    revision = fresh(project).scheme_revision

    def change_then_fail() -> None:
        with transaction.atomic():
            _rename_label(project)
            SchemeIndex.for_project(fresh(project))  # kept under the new revision
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert fresh(project).scheme_revision == revision
    label = factories.label(project, "claim", "opinion")
    label.name_de = "Anders"
    label.save()
    index = SchemeIndex.for_project(fresh(project))
    assert index.labels[("claim", "opinion")].name_en != "Changed"
    assert index.labels[("claim", "opinion")].name_de == "Anders"
