from django.urls import path

from .views import annotate, team, worklist
from .views import export as export_views

app_name = "annotations"

urlpatterns = [
    path("", worklist.work_list, name="work_list"),
    path("continue/", worklist.continue_work, name="continue"),
    path("articles/<int:pk>/annotate/", annotate.annotate, name="annotate"),
    path(
        "articles/<int:pk>/segments/<int:position>/",
        annotate.annotate,
        name="annotate_segment",
    ),
    path(
        "articles/<int:pk>/segments/<int:position>/save/",
        annotate.save,
        name="save_annotation",
    ),
    path(
        "articles/<int:pk>/sources/",
        annotate.source_suggestions,
        name="source_suggestions",
    ),
    # Team work: dashboard and assignment (managers), agreement and review (reviewers).
    path("team/", team.team_index, name="team_index"),
    path("team/<slug:slug>/", team.dashboard, name="team_dashboard"),
    path("team/<slug:slug>/assign/", team.assign, name="team_assign"),
    path("team/<slug:slug>/agreement/", team.agreement_page, name="team_agreement"),
    path("team/<slug:slug>/review/", team.review_list, name="review_list"),
    path("articles/<int:pk>/review/", team.review, name="review"),
    path(
        "articles/<int:pk>/review/<int:segment_pk>/",
        team.review_save,
        name="review_save",
    ),
    path(
        "articles/<int:pk>/review/<int:segment_pk>/form/",
        team.review_segment,
        name="review_segment",
    ),
    # Export: the page, the streamed download and the codebook.
    path("export/", export_views.export_page, name="export"),
    path(
        "export/<slug:slug>/download/",
        export_views.export_download,
        name="export_download",
    ),
    path(
        "export/<slug:slug>/codebook/",
        export_views.export_codebook,
        name="export_codebook",
    ),
]
