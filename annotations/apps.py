from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Claim & Stance Workbench"

    def ready(self) -> None:
        # Cache invalidation only (as django.contrib.sites clears SITE_CACHE):
        # a change of the label scheme gives the projects a new scheme revision,
        # so no process keeps using an index loaded before it (scheme.py).
        from .models import Dimension, Label, Project, StanceTarget
        from .scheme import optional_dimensions_changed, scheme_changed

        for model in (Dimension, Label, StanceTarget):
            post_save.connect(
                scheme_changed,
                sender=model,
                dispatch_uid=f"scheme-{model.__name__}-save",
            )
            post_delete.connect(
                scheme_changed,
                sender=model,
                dispatch_uid=f"scheme-{model.__name__}-delete",
            )
        m2m_changed.connect(
            optional_dimensions_changed,
            sender=Project.optional_dimensions.through,
            dispatch_uid="scheme-optional-dimensions",
        )
