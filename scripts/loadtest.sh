#!/usr/bin/env bash
# make loadtest: gunicorn on PostgreSQL, simulated annotators with locust (headless,
# bounded), then a check that every acknowledged save is in the database.
#
# Settings (environment): DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/workbench_load, created if missing; must be on
# this machine), LOAD_USERS (20), LOAD_SPAWN_RATE (10/s), LOAD_DURATION (60s),
# LOAD_ARTICLES (200), WEB_CONCURRENCY (gunicorn workers, default 4), LOAD_PORT (8765).
# Results: artifacts/loadtest/ (locust CSV and HTML, gunicorn log, acks.tsv,
# summary.json).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/workbench_load}"
case "$DATABASE_URL" in
  postgres://*@127.0.0.1[:/]*|postgres://*@localhost[:/]*) ;;
  postgresql://*@127.0.0.1[:/]*|postgresql://*@localhost[:/]*) ;;
  *) echo "loadtest: DATABASE_URL must be a PostgreSQL database on 127.0.0.1" >&2
     exit 2 ;;
esac
USERS="${LOAD_USERS:-20}"
SPAWN_RATE="${LOAD_SPAWN_RATE:-10}"
DURATION="${LOAD_DURATION:-60s}"
ARTICLES="${LOAD_ARTICLES:-200}"
export PORT="${LOAD_PORT:-8765}"
export WEB_CONCURRENCY="${WEB_CONCURRENCY:-4}"
# Production settings minus TLS: the test talks plain HTTP to 127.0.0.1.
export DEBUG=0 SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0
export SECURE_HSTS_SECONDS=0 ALLOWED_HOSTS=127.0.0.1 LOG_LEVEL=WARNING
SECRET_KEY="${SECRET_KEY:-$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')}"
export SECRET_KEY
export LOAD_OUT=artifacts/loadtest

rm -rf "$LOAD_OUT" && mkdir -p "$LOAD_OUT"
$PY loadtest/prepare.py create-db
$PY manage.py migrate --noinput -v0
$PY manage.py collectstatic --noinput -v0
$PY loadtest/prepare.py seed --users "$USERS" --articles "$ARTICLES" --out "$LOAD_OUT"

.venv/bin/gunicorn -c gunicorn.conf.py >"$LOAD_OUT/gunicorn.log" 2>&1 &
GUNICORN=$!
trap 'kill -TERM "$GUNICORN" 2>/dev/null || true; wait "$GUNICORN" 2>/dev/null || true' EXIT
$PY - <<PYEOF || { cat "$LOAD_OUT/gunicorn.log"; exit 1; }
import time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:$PORT/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.2)
else:
    raise SystemExit("gunicorn did not answer /healthz within 20 s")
PYEOF
echo "gunicorn: $WEB_CONCURRENCY workers on 127.0.0.1:$PORT; $USERS users for $DURATION"

status=0
.venv/bin/locust -f loadtest/locustfile.py --headless --host "http://127.0.0.1:$PORT" \
  --users "$USERS" --spawn-rate "$SPAWN_RATE" --run-time "$DURATION" \
  --stop-timeout 10 --csv "$LOAD_OUT/locust" --html "$LOAD_OUT/locust.html" \
  --only-summary --loglevel WARNING || status=$?
$PY loadtest/report.py "$LOAD_OUT" || status=1
$PY loadtest/check_writes.py "$LOAD_OUT" || status=1
exit $status
