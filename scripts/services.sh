# Sourced by scripts/test and scripts/bench: installs PostgreSQL and Redis from Debian's packages
# when missing, starts private instances on loopback in a temporary folder, exports their URLs,
# and stops them when the calling script exits. Fails (never skips) when one cannot start.
# shellcheck shell=bash

log() { printf '\033[1m[%s]\033[0m %s\n' "${ROUGE_SCRIPT:-rouge}" "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
pg_bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_services [extra postgres -c settings...]
start_services() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  { [ -n "$(pg_bin_dir)" ] && [ -x "$(pg_bin_dir)/initdb" ]; } || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from Debian's packages"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  PG_BIN="$(pg_bin_dir)"
  [ -x "$PG_BIN/initdb" ] || { log "PostgreSQL is not installed and could not be"; exit 1; }
  command -v redis-server >/dev/null 2>&1 || { log "redis-server is not installed and could not be"; exit 1; }

  SERVICES_DIR="$(mktemp -d /tmp/rouge-services.XXXXXX)"
  chmod 755 "$SERVICES_DIR"
  PG_DATA="$SERVICES_DIR/pg"
  PG_PORT="$(free_port)"
  REDIS_PORT="$(free_port)"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    mkdir -p "$PG_DATA" && chown postgres "$PG_DATA" "$SERVICES_DIR"
  fi
  trap stop_services EXIT INT TERM

  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  run_pg "$PG_BIN/initdb" -D "$PG_DATA" -U rouge --auth=trust -E UTF8 --locale=C.UTF-8 >"$SERVICES_DIR/initdb.log" 2>&1 \
    || { cat "$SERVICES_DIR/initdb.log" >&2; exit 1; }
  local opts="-p $PG_PORT -k $SERVICES_DIR -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=256MB"
  for setting in "$@"; do opts="$opts -c $setting"; done
  run_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$SERVICES_DIR/pg.log" -w -t 60 start -o "$opts" >/dev/null \
    || { cat "$SERVICES_DIR/pg.log" >&2; exit 1; }

  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$SERVICES_DIR/redis.pid" --dir "$SERVICES_DIR" --logfile "$SERVICES_DIR/redis.log"
  local i
  for i in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$REDIS_PORT" ping >/dev/null || { log "Redis did not start"; cat "$SERVICES_DIR/redis.log" >&2; exit 1; }

  export ROUGE_TEST_DATABASE_URL="postgres://rouge@127.0.0.1:$PG_PORT/postgres"
  export ROUGE_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
  export ROUGE_TEST_REDIS_SERVER="$(command -v redis-server)"
  export ROUGE_TEST_TMP="$SERVICES_DIR"
  # Tests that restart PostgreSQL start a private one from these binaries.
  export PG_BIN
}

# The S3-protocol test server for the media tests' S3 path: s3s-fs from crates.io (verifies
# SigV4 header signatures and presigned URLs, including their expiry, against the access key
# given here; objects are files under a folder, a bucket is a sub-folder). Installed with
# `cargo install --locked` when missing (version pinned: the newest needs a newer rustc).
# Call after start_services (it uses SERVICES_DIR and the same EXIT trap).
S3S_FS_VERSION=0.14.1
start_s3() {
  if ! command -v s3s-fs >/dev/null 2>&1; then
    if [ "${ROUGE_TEST_INSTALL:-yes}" = no ]; then
      log "missing: s3s-fs (ROUGE_TEST_INSTALL=no: not installing)"; exit 1
    fi
    log "installing s3s-fs $S3S_FS_VERSION (cargo install --locked), the S3 test server"
    cargo install --locked "s3s-fs@$S3S_FS_VERSION" --features binary >&2 \
      || { log "s3s-fs could not be installed"; exit 1; }
  fi
  command -v s3s-fs >/dev/null 2>&1 || { log "s3s-fs is not on PATH (~/.cargo/bin)"; exit 1; }
  local port root i
  port="$(free_port)"
  root="$SERVICES_DIR/s3"
  mkdir -p "$root"
  log "starting s3s-fs on 127.0.0.1:$port"
  s3s-fs --host 127.0.0.1 --port "$port" --access-key rouge-test-access \
    --secret-key rouge-test-secret-key-0123456789 "$root" >"$SERVICES_DIR/s3.log" 2>&1 &
  echo $! >"$SERVICES_DIR/s3.pid"
  for i in $(seq 1 100); do
    # any HTTP answer (403 without credentials) means it listens
    python3 -c "import urllib.request,sys
try: urllib.request.urlopen('http://127.0.0.1:$port/', timeout=1)
except urllib.error.HTTPError: sys.exit(0)
except Exception: sys.exit(1)" && break
    sleep 0.1
  done
  kill -0 "$(cat "$SERVICES_DIR/s3.pid")" 2>/dev/null || { log "s3s-fs did not start"; cat "$SERVICES_DIR/s3.log" >&2; exit 1; }
  export ROUGE_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
  export ROUGE_TEST_S3_ACCESS_KEY=rouge-test-access
  export ROUGE_TEST_S3_SECRET_KEY=rouge-test-secret-key-0123456789
  export ROUGE_TEST_S3_ROOT="$root"
}

# initdb and postgres refuse to run as root: run them as the postgres user when we are root.
run_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_services() {
  local status=$?
  log "stopping services"
  run_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$SERVICES_DIR/redis.pid" ] && kill "$(cat "$SERVICES_DIR/redis.pid")" 2>/dev/null || true
  [ -f "$SERVICES_DIR/s3.pid" ] && kill "$(cat "$SERVICES_DIR/s3.pid")" 2>/dev/null || true
  if [ $status -ne 0 ] && [ -f "$SERVICES_DIR/pg.log" ]; then tail -n 20 "$SERVICES_DIR/pg.log" >&2 || true; fi
  rm -rf "$SERVICES_DIR"
  exit $status
}
