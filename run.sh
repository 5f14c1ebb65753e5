#!/usr/bin/env bash
# Run Bespin: ./run.sh dev | docker | clean | docker-clean | help
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
PY="$VENV/bin/python"

# The local environment file `make dev` writes once (.env.dev: DEBUG=1, a generated
# SECRET_KEY, …), read as manage.py reads it (bespin/devenv.py): NAME=value lines, taken
# literally, a later line winning over an earlier one; a variable the environment already
# exports wins over the file. BESPIN_ENV_FILE= reads none.
ENV_FILE=${BESPIN_ENV_FILE-.env.dev}
FROM_ENV_FILE=" "  # the names set from the file, between spaces (bash 3 has no associative arrays)
load_env_file() {
  local line name
  [ -n "$ENV_FILE" ] && [ -f "$ENV_FILE" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}  # a file saved with CRLF
    [[ -z "${line//[[:space:]]/}" || "$line" =~ ^[[:space:]]*# ]] && continue
    name=${line%%=*}
    if [[ "$line" != *=* || ! "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
      echo "$ENV_FILE: expected NAME=value, not '$line'" >&2; exit 2
    fi
    if [[ "$FROM_ENV_FILE" == *" $name "* ]] || ! exported "$name"; then
      export "$name=${line#*=}"
      FROM_ENV_FILE="$FROM_ENV_FILE$name "
    fi
  done < "$ENV_FILE"
  # For the deployment check that refuses it in production (bespin.E003).
  export BESPIN_ENV_FILE_READ=$ENV_FILE
}

# Whether the environment this script was given exports NAME ($1).
exported() {
  local flags
  flags=$(declare -p "$1" 2>/dev/null) || return 1
  flags=${flags#declare -}
  [[ "${flags%% *}" == *x* ]]
}

# Written once, by the first `make dev`; delete it to have it written again.
write_env_file() {
  [ -n "$ENV_FILE" ] && [ ! -e "$ENV_FILE" ] || return 0
  local key
  key=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')
  (umask 077 && cat > "$ENV_FILE" <<ENV
# Bespin's development settings, written once by \`make dev\`; manage.py and \`./run.sh dev\`
# read them, and a variable set in the environment wins. For development only: never commit
# this file (git and Docker ignore it), and never let production read it (check --deploy
# refuses it). NAME=value lines, taken literally; a later line wins over an earlier one.
DEBUG=1
SECRET_KEY=$key
# Callbacks to a receiver on this machine.
BESPIN_CALLBACK_ALLOW_PRIVATE=1
# Your apps of tasks, comma-separated (the example app's tasks beside the built-ins).
BESPIN_APPS=examples.reports
ENV
  )
  echo "wrote $ENV_FILE (development settings and a new SECRET_KEY; git ignores it)"
}

# Only `dev` reads it, and passes it on to the server and the worker it starts: `serve`, as
# production runs it, and compose (`make docker`) take nothing from a development checkout.
[ "${1:-}" != dev ] || load_env_file
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
  # Before anything else: a server already on the port would only fail after the banner.
  local probe=${HOST:-127.0.0.1}
  [ "$probe" != 0.0.0.0 ] || probe=127.0.0.1
  if (: <>"/dev/tcp/$probe/$PORT") 2>/dev/null; then
    echo "port $PORT is in use on this machine (another Bespin, or another server): stop it, or choose another port: make dev PORT=8001" >&2
    exit 1
  fi
  ensure_venv
  write_env_file
  load_env_file
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
  trap dev_signal INT TERM HUP
  # The server and the worker start again when Python code (and, for the server, a
  # template) changes: bespin/reloader.py. BESPIN_RELOAD=0 runs them plainly.
  if [ "${BESPIN_RELOAD:-1}" = 0 ]; then
    dev_start ./run.sh serve
    dev_start "$PY" manage.py rqworker default
  else
    dev_start "$PY" -m bespin.reloader --ext py,html --label server -- ./run.sh serve
    dev_start "$PY" -m bespin.reloader --ext py --label worker -- "$PY" manage.py rqworker default
  fi
  # The banner once the server answers on the port; a process that exits first (the reloader
  # too, when its first start fails) ends the wait, and `wait -n` below reports it.
  while [ "$DEV_SIGNALS" = 0 ] && dev_all_running && ! (: <>"/dev/tcp/$probe/$PORT") 2>/dev/null; do
    sleep 0.2
  done
  if [ "$DEV_SIGNALS" = 0 ] && dev_all_running; then
    echo
    echo "Bespin is running at http://localhost:$PORT/  (API http://localhost:$PORT/api/, admin http://localhost:$PORT/admin/)"
    echo "Ctrl-C stops the server and the worker (once the running job ends; twice: at once)."
    [ "${BESPIN_RELOAD:-1}" = 0 ] || echo "Both start again when Python code changes (BESPIN_RELOAD=0: never)."
    # Until one of them exits or a signal arrives (a trapped signal ends `wait` early).
    wait -n "${DEV_PIDS[@]}"
  fi
  if [ "$DEV_SIGNALS" = 0 ]; then
    echo "a Bespin process exited; stopping the other" >&2
    DEV_STATUS=1
    kill -TERM "${DEV_PIDS[@]}" 2>/dev/null
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

dev_all_running() {
  local pid
  for pid in "${DEV_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done
}

# Start "$@" in the background, in a session (and process group) of its own, under its own
# pid: Python's setsid() then exec, as util-linux's setsid does where it exists.
dev_start() {
  "$PY" -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' "$@" </dev/null &
  DEV_PIDS+=("$!")
  # A Ctrl-C that came while it was starting was not sent to it.
  [ "$DEV_SIGNALS" = 0 ] || kill -TERM "$!" 2>/dev/null
}

# A stop asked for by a signal is a clean one: the script then ends with status 0 (make
# prints no error), unless a process had already exited by itself.
dev_signal() {
  DEV_SIGNALS=$((DEV_SIGNALS + 1))
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

usage() {
  cat <<'USAGE'
Usage: ./run.sh COMMAND
  dev           create .venv, set up the database, run Daphne and one worker (Ctrl-C stops both; twice: at once)
  serve         run the ASGI server only (Daphne, or uvicorn with BESPIN_SERVER=uvicorn), as containers do
  docker        run PostgreSQL, Redis, the server and a worker with Docker Compose
  clean         remove the virtualenv, caches and collected static files
  docker-clean  stop and remove the Compose containers and volumes
  help          show this message
USAGE
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
  help) usage ;;
  *) usage >&2; echo "unknown command: $1" >&2; exit 2 ;;
esac
