#!/usr/bin/env bash
# Makes sure Postgres and Redis answer at the configured URLs, starting local
# servers from installed binaries when they are not running and, on Debian as
# root, installing the binaries when they are missing. Then creates the
# database the services use. Used by `make run` and `make test`.
set -euo pipefail

DATABASE_URL=${TANDEM_DATABASE_URL:-postgres://postgres@localhost:5432/tandem?sslmode=disable}
REDIS_URL=${TANDEM_REDIS_URL:-redis://localhost:6379/0}

log() { printf '[deps] %s\n' "$*" >&2; }

# host and port of a URL: scheme://[user[:pw]@]host[:port][/...]
url_host() { local u=${1#*://}; u=${u%%/*}; u=${u##*@}; u=${u%%:*}; [ -n "$u" ] && echo "$u" || echo localhost; }
url_port() { local u=${1#*://}; u=${u%%/*}; u=${u##*@}; case $u in *:*) echo "${u##*:}";; *) echo "$2";; esac; }
url_db() { local u=${1#*://}; u=${u#*/}; u=${u%%\?*}; echo "$u"; }
url_user() { local u=${1#*://}; u=${u%%/*}; case $u in *@*) u=${u%%@*}; echo "${u%%:*}";; *) echo postgres;; esac; }

PG_HOST=$(url_host "$DATABASE_URL"); PG_PORT=$(url_port "$DATABASE_URL" 5432)
PG_DB=$(url_db "$DATABASE_URL"); PG_USER=$(url_user "$DATABASE_URL")
REDIS_HOST=$(url_host "$REDIS_URL"); REDIS_PORT=$(url_port "$REDIS_URL" 6379)

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_tcp() {
  for _ in $(seq 1 100); do tcp_open "$1" "$2" && return 0; sleep 0.2; done
  return 1
}

is_local() { case $1 in localhost|127.0.0.1|::1) return 0;; *) return 1;; esac; }

install_packages() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "Tandem needs $* : install them (Debian/Ubuntu: apt-get install $*), or point TANDEM_DATABASE_URL and TANDEM_REDIS_URL at running servers." >&2
    exit 1
  fi
}

ensure_redis() {
  tcp_open "$REDIS_HOST" "$REDIS_PORT" && return 0
  is_local "$REDIS_HOST" || { echo "Redis at $REDIS_HOST:$REDIS_PORT does not answer." >&2; exit 1; }
  command -v redis-server >/dev/null || install_packages redis-server
  log "starting redis-server on port $REDIS_PORT"
  mkdir -p .run
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$PWD/.run" --logfile "$PWD/.run/redis.log" >/dev/null
  wait_tcp "$REDIS_HOST" "$REDIS_PORT" || { echo "redis-server did not start; see .run/redis.log" >&2; exit 1; }
}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && { echo "$d"; return; }; done
  command -v pg_ctl >/dev/null && dirname "$(command -v pg_ctl)"
}

ensure_postgres() {
  tcp_open "$PG_HOST" "$PG_PORT" && return 0
  is_local "$PG_HOST" || { echo "Postgres at $PG_HOST:$PG_PORT does not answer." >&2; exit 1; }
  if command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    local ver; ver=$(ls /etc/postgresql | sort -V | tail -n1)
    log "starting the Debian cluster $ver/main"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  else
    [ -n "$(pg_bindir)" ] || install_packages postgresql
    if command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
      local ver; ver=$(ls /etc/postgresql | sort -V | tail -n1)
      log "starting the Debian cluster $ver/main"
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    else
      # A private cluster with trust auth for local development.
      local bin; bin=$(pg_bindir); local data="$PWD/.run/pgdata"
      local as=(); [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
      mkdir -p "$PWD/.run"; [ "$(id -u)" = 0 ] && chown postgres "$PWD/.run"
      if [ ! -d "$data" ]; then
        log "initialising a local cluster in .run/pgdata"
        "${as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust >/dev/null
      fi
      log "starting postgres on port $PG_PORT"
      "${as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -o "-p $PG_PORT -k /tmp" start >/dev/null
    fi
  fi
  wait_tcp "$PG_HOST" "$PG_PORT" || { echo "Postgres did not start" >&2; exit 1; }
}

ensure_database() {
  [ -n "$PG_DB" ] || return 0
  command -v psql >/dev/null || install_packages postgresql-client
  local maint="postgres://$PG_USER@$PG_HOST:$PG_PORT/postgres"
  for _ in $(seq 1 50); do psql "$maint" -Atqc 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
  if [ "$(psql "$maint" -Atqc "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]; then
    log "creating database $PG_DB"
    psql "$maint" -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null 2>&1 || \
      [ "$(psql "$maint" -Atqc "select 1 from pg_database where datname = '$PG_DB'")" = 1 ]
  fi
}

ensure_redis
ensure_postgres
ensure_database
log "Postgres at $PG_HOST:$PG_PORT (database $PG_DB) and Redis at $REDIS_HOST:$REDIS_PORT answer"
