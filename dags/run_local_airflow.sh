#!/usr/bin/env bash
# Local Airflow 3 for ranklake (`make airflow`): api-server, scheduler, dag-processor, triggerer,
# each bound to / talking over 127.0.0.1 only. Not `airflow standalone`: its log servers listen on
# 0.0.0.0; here the scheduler and triggerer run with --skip-serve-logs (LocalExecutor writes task
# logs to airflow_home/logs on this machine, which the api-server reads directly).
# Low parallelism for small machines: 2 task slots, one DAG run and one parsing process at a time.
# Ctrl-C stops every component this script started.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AF="$REPO/.venv-airflow/bin/airflow"
PORT="${AIRFLOW_PORT:-8793}"
[ -x "$AF" ] || { echo "error: $AF missing: run 'make airflow-setup'" >&2; exit 2; }
[ -x "$REPO/.venv/bin/spark-submit" ] || { echo "error: jobs venv missing: run 'make setup'" >&2; exit 2; }

export AIRFLOW_HOME="${AIRFLOW_HOME:-$REPO/airflow_home}"   # gitignored
mkdir -p "$AIRFLOW_HOME/logs"
secret() { # a per-install secret kept in AIRFLOW_HOME (never in the repo)
  local f="$AIRFLOW_HOME/.$1"
  [ -s "$f" ] || { (umask 077; "$REPO/.venv-airflow/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$f"); }
  cat "$f"
}
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__PARALLELISM=2
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=2
export AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG=1
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${RANKLAKE_AIRFLOW_USER:-admin}:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$PORT"
export AIRFLOW__API__WORKERS=1
export AIRFLOW__API__SECRET_KEY="$(secret api_secret_key)"
export AIRFLOW__API_AUTH__JWT_SECRET="$(secret jwt_secret)"
export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST=127.0.0.1
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1
export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=60
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=60
export AIRFLOW__TRIGGERER__CAPACITY=50
export RANKLAKE_PROJECT_DIR="$REPO"
export RANKLAKE_HOME="${RANKLAKE_HOME:-$REPO/lake}"
export TZ=UTC
cd "$REPO"

"$AF" db migrate > "$AIRFLOW_HOME/logs/db-migrate.log" 2>&1 || {
  echo "error: airflow db migrate failed, see $AIRFLOW_HOME/logs/db-migrate.log" >&2; exit 1; }

PIDS=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping Airflow (pids ${PIDS[*]:-none})"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  exit 0
}
trap stop INT TERM EXIT
start() { # name, args...
  local name=$1; shift
  "$AF" "$@" > "$AIRFLOW_HOME/logs/$name.log" 2>&1 &
  PIDS+=($!)
}
start api-server api-server --host 127.0.0.1 --port "$PORT" --workers 1
start scheduler scheduler --skip-serve-logs
start dag-processor dag-processor
start triggerer triggerer --skip-serve-logs

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health" >/dev/null 2>&1 && break
  sleep 2
done
PASSWORD="$("$REPO/.venv-airflow/bin/python" - "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" <<'PY' 2>/dev/null || echo '(see the passwords file)'
import json, sys
print(next(iter(json.load(open(sys.argv[1])).values())))
PY
)"
cat <<MSG

  Airflow is up: http://127.0.0.1:$PORT   (bound to 127.0.0.1 only)
  login: ${RANKLAKE_AIRFLOW_USER:-admin} / $PASSWORD   (from $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE)
  DAG ranking_daily starts paused: unpause it in the UI, or trigger it with the form (Trigger ▸).
  component logs: $AIRFLOW_HOME/logs/{api-server,scheduler,dag-processor,triggerer}.log
  Ctrl-C stops everything.

MSG
wait -n "${PIDS[@]}" || true
echo "an Airflow component exited; see $AIRFLOW_HOME/logs" >&2
