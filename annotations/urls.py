from django.urls import path

from .views import worklist

app_name = "annotations"

urlpatterns = [
    path("", worklist.work_list, name="work_list"),
]
