from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Installed only so that Django finds the benchmark commands; no models."""

    name = "annotations.bench"
    label = "workbench_bench"
    verbose_name = "Benchmark"
