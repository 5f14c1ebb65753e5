#!/usr/bin/env bash
# Run Bespin: ./run.sh dev | docker | clean | docker-clean | help
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
PY="$VENV/bin/python"
PORT=${PORT:-8000}

ensure_venv() {
  if [ ! -f "$VENV/.installed" ] || [ requirements.txt -nt "$VENV/.installed" ]; then
    [ -x "$PY" ] || "${PYTHON:-python3}" -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet -r requirements.txt
    touch "$VENV/.installed"
  fi
}

dev() {
  ensure_venv
  export DEBUG=${DEBUG:-1}
  "$PY" manage.py bootstrap
  serve "$VENV/bin/" &
  local web=$!
  "$PY" manage.py rqworker default &
  local worker=$!
  trap 'echo; echo "stopping Bespin"; kill $web $worker 2>/dev/null; wait $web $worker 2>/dev/null; exit 0' INT TERM
  sleep 1
  echo
  echo "Bespin is running at http://localhost:$PORT/  (API http://localhost:$PORT/api/, admin http://localhost:$PORT/admin/)"
  echo "Ctrl-C stops the server and the worker."
  wait -n $web $worker
  echo "a Bespin process exited; stopping the other" >&2
  kill $web $worker 2>/dev/null || true
  exit 1
}

# The ASGI server: Daphne by default; BESPIN_SERVER=uvicorn runs uvicorn (uvloop, httptools),
# which serves the same application with less CPU per request (docs/BENCHMARKS.md).
serve() {
  local bin=${1:-}
  case "${BESPIN_SERVER:-daphne}" in
    daphne) exec "${bin}daphne" -b "${HOST:-127.0.0.1}" -p "$PORT" bespin.asgi:application ;;
    uvicorn) exec "${bin}uvicorn" bespin.asgi:application --host "${HOST:-127.0.0.1}" --port "$PORT" \
               --loop uvloop --http httptools --ws websockets-sansio --no-server-header ;;
    *) echo "BESPIN_SERVER must be daphne or uvicorn, not '$BESPIN_SERVER'" >&2; exit 2 ;;
  esac
}

compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}

case "${1:-help}" in
  dev) dev ;;
  serve) if [ -x "$VENV/bin/daphne" ]; then serve "$VENV/bin/"; else serve; fi ;;
  docker) compose up --build ;;
  clean) rm -rf "$VENV" staticfiles .pytest_cache .ruff_cache .hypothesis; find . -name __pycache__ -prune -exec rm -rf {} + ;;
  docker-clean) compose down --volumes --remove-orphans ;;
  help|*)
    cat <<'USAGE'
Usage: ./run.sh COMMAND
  dev           create .venv, set up the database, run Daphne and one worker (Ctrl-C stops both)
  serve         run the ASGI server only (Daphne, or uvicorn with BESPIN_SERVER=uvicorn), as containers do
  docker        run PostgreSQL, Redis, the server and a worker with Docker Compose
  clean         remove the virtualenv, caches and collected static files
  docker-clean  stop and remove the Compose containers and volumes
  help          show this message
USAGE
    ;;
esac
