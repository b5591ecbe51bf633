"""Gunicorn settings for production serving: ``gunicorn workbench.wsgi``.

Read from the environment so one file serves a laptop, a load test and a server:
- ``WEB_CONCURRENCY``: worker processes (default 2 x CPUs + 1, gunicorn's advice
  for a mostly I/O-bound app: each sync worker waits on PostgreSQL most of the time);
- ``GUNICORN_THREADS``: threads per worker (default 1: plain sync workers, each
  holding one persistent database connection, see ``DB_CONN_MAX_AGE``);
- ``BIND`` (default ``127.0.0.1:$PORT``, ``PORT`` default 8000): behind a reverse
  proxy on the same machine; set ``BIND=0.0.0.0:8000`` only behind a firewall.
See docs/performance.md for running several processes and machines.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number; got {raw!r}") from None
    if value < 1:
        raise SystemExit(f"{name} must be at least 1; got {value}")
    return value


wsgi_app = "workbench.wsgi:application"
bind = os.environ.get("BIND") or f"127.0.0.1:{_int('PORT', 8000)}"
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1)
threads = _int("GUNICORN_THREADS", 1)
# A request that takes longer than this is stuck; the worker is replaced.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak in any library cannot grow forever.
max_requests = 2000
max_requests_jitter = 200
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Fail at start-up, not at the first request, when settings are broken.
preload_app = True
