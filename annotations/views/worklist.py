"""Work list: the articles of my projects with my progress (placeholder until issue 3)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotations.models import Article


def work_list(request: HttpRequest) -> HttpResponse:
    articles = Article.objects.for_user(request.user).select_related("project")[:50]
    return render(request, "annotations/work_list.html", {"articles": articles})
