"""The benchmark in one place: ``make bench`` (``manage.py bench``) and
``manage.py bench_export``.

- ``corpus.py``: the one corpus builder both use (generated German news through
  the real import path, real saves for a sample, the rest by a bulk path that
  writes the same rows) and the scratch project's removal;
- ``runner.py``: the page, save, agreement and export figures of ``bench``;
- ``export.py``: the export throughput and memory figures of ``bench_export``;
- ``urls.py``: the real URLs plus the "limit" view (never routed in production);
- ``management/commands/``: the two commands (this package is an app so Django
  finds them).
"""
