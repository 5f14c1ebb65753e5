#!/usr/bin/env bash
# Run Bespin: ./run.sh dev | docker | clean | docker-clean | help
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
PY="$VENV/bin/python"
PORT=${PORT:-8000}

# What runs Bespin, from its lock (as `make install`).
ensure_venv() {
  if [ ! -f "$VENV/.runtime" ] || [ requirements.lock -nt "$VENV/.runtime" ]; then
    [ -x "$PY" ] || "${PYTHON:-python3}" -m venv "$VENV"
    "$PY" -m pip install --quiet --require-hashes -r requirements.lock
    touch "$VENV/.runtime"
  fi
}

# `make dev` and `./run.sh dev`: Daphne and one worker until Ctrl-C.
#
# Ctrl-C sends SIGINT to the terminal's whole foreground process group: make, this script
# and, were they in it, the server and the worker. RQ takes a second signal within a second
# as a repeat and ignores it, Daphne ignores SIGINT when started in the background, and make
# waits for this script: so the children must not get the terminal's signals besides ours,
# or the first Ctrl-C would be two signals to the worker and the second none. Each child
# runs in a session of its own, out of the terminal's reach, and only this script signals it:
#   first Ctrl-C (or SIGTERM, SIGHUP): SIGTERM to both; the worker finishes its running job
#     (RQ's warm shutdown), the server closes; this script waits for both;
#   a second one while it waits: SIGKILL to both sessions' process groups, any children
#     included; a job left running is the recovery sweep's to re-run or fail.
# Either way this script returns only once neither is running (make returns after it). Only
# SIGKILL of this script itself, which nothing can trap, leaves the children behind.
dev() {
  ensure_venv
  export DEBUG=${DEBUG:-1}
  # Callbacks to a receiver on this machine, and links in their bodies to this server.
  export BESPIN_CALLBACK_ALLOW_PRIVATE=${BESPIN_CALLBACK_ALLOW_PRIVATE:-1}
  export BESPIN_PUBLIC_URL=${BESPIN_PUBLIC_URL:-http://localhost:$PORT}
  # The example app's tasks beside the built-ins (BESPIN_APPS= for none, or name your own).
  export BESPIN_APPS=${BESPIN_APPS-examples.reports}
  "$PY" manage.py bootstrap
  # From here a failing command must not end the script with its children still running.
  set +e
  DEV_PIDS=()
  DEV_SIGNALS=0
  DEV_STATUS=0
  trap 'dev_signal 2' INT
  trap 'dev_signal 15' TERM
  trap 'dev_signal 1' HUP
  dev_start ./run.sh serve
  dev_start "$PY" manage.py rqworker default
  sleep 1
  if [ "$DEV_SIGNALS" = 0 ]; then
    echo
    echo "Bespin is running at http://localhost:$PORT/  (API http://localhost:$PORT/api/, admin http://localhost:$PORT/admin/)"
    echo "Ctrl-C stops the server and the worker (once the running job ends; twice: at once)."
    # Until one of them exits or a signal arrives (a trapped signal ends `wait` early).
    wait -n "${DEV_PIDS[@]}"
    if [ "$DEV_SIGNALS" = 0 ]; then
      echo "a Bespin process exited; stopping the other" >&2
      DEV_STATUS=1
      kill -TERM "${DEV_PIDS[@]}" 2>/dev/null
    fi
  fi
  # Until both have exited: `wait` returns early for each trapped signal, so wait again.
  while :; do
    local seen=$DEV_SIGNALS
    wait "${DEV_PIDS[@]}" 2>/dev/null
    [ "$DEV_SIGNALS" = "$seen" ] && break
  done
  # A child that died abruptly may have left children of its own behind.
  dev_kill_groups
  exit "$DEV_STATUS"
}

# Start "$@" in the background, in a session (and process group) of its own, under its own
# pid: Python's setsid() then exec, as util-linux's setsid does where it exists.
dev_start() {
  "$PY" -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' "$@" </dev/null &
  DEV_PIDS+=("$!")
  # A Ctrl-C that came while it was starting was not sent to it.
  [ "$DEV_SIGNALS" = 0 ] || kill -TERM "$!" 2>/dev/null
}

dev_signal() {
  DEV_SIGNALS=$((DEV_SIGNALS + 1))
  [ "$DEV_STATUS" != 0 ] || DEV_STATUS=$((128 + $1))
  if [ "$DEV_SIGNALS" = 1 ]; then
    echo; echo "stopping Bespin: the worker finishes its running job (Ctrl-C again: stop at once)" >&2
    kill -TERM "${DEV_PIDS[@]}" 2>/dev/null
  else
    echo "stopping Bespin at once; a job left running is re-run or failed by the recovery sweep" >&2
    dev_kill_groups
  fi
}

dev_kill_groups() {
  local pid
  for pid in "${DEV_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  # A child still between fork and setsid has no group yet: kill it by pid, but only while
  # it is this shell's running child, never a stranger that has since been given its number.
  for pid in $(jobs -pr); do kill -KILL "$pid" 2>/dev/null; done
}

# The ASGI server: Daphne by default; BESPIN_SERVER=uvicorn runs uvicorn (uvloop, httptools),
# which serves the same application with less CPU per request (docs/BENCHMARKS.md).
serve() {
  local bin=${1:-} ws_max=${BESPIN_WS_MAX_MESSAGE_BYTES:-4096}
  case "${BESPIN_SERVER:-daphne}" in
    # A client's WebSocket message past BESPIN_WS_MAX_MESSAGE_BYTES closes its socket (1009):
    # the streams take nothing from clients, and the server would buffer a message whole.
    daphne) exec "${bin}daphne" -b "${HOST:-127.0.0.1}" -p "$PORT" --websocket-max-message-size "$ws_max" \
              --websocket-max-frame-size "$ws_max" bespin.asgi:application ;;
    uvicorn) exec "${bin}uvicorn" bespin.asgi:application --host "${HOST:-127.0.0.1}" --port "$PORT" \
               --loop uvloop --http httptools --ws websockets-sansio --ws-max-size "$ws_max" --no-server-header ;;
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
  # Compose reads the whole file, SECRET_KEY's "must be set" included, even to take it down.
  docker-clean) SECRET_KEY=${SECRET_KEY:-unused-by-compose-down} compose down --volumes --remove-orphans ;;
  help|*)
    cat <<'USAGE'
Usage: ./run.sh COMMAND
  dev           create .venv, set up the database, run Daphne and one worker (Ctrl-C stops both; twice: at once)
  serve         run the ASGI server only (Daphne, or uvicorn with BESPIN_SERVER=uvicorn), as containers do
  docker        run PostgreSQL, Redis, the server and a worker with Docker Compose
  clean         remove the virtualenv, caches and collected static files
  docker-clean  stop and remove the Compose containers and volumes
  help          show this message
USAGE
    ;;
esac
