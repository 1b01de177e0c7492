#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL server on a loopback port and
# WEBHOOK_TEST_POSTGRES_DSN pointing at it:
#
#   scripts/with-postgres.sh go test -race ./...
#
# Installs PostgreSQL with apt when its binaries are missing (as root), runs
# initdb into a temporary directory as a non-root user, starts the server on
# 127.0.0.1, waits until it accepts connections, runs the command, and stops
# the server and removes its files on exit, failure included.
#
# PG_FSYNC=on keeps fsync and synchronous_commit on (for benchmarks); by
# default they are off, which is safe for a server that lives for one test run.
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: $0 COMMAND [ARGS...]" >&2
	exit 2
fi

find_pgbin() {
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

PGBIN="${PGBIN:-$(find_pgbin)}"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "$0: PostgreSQL is not installed: run 'sudo apt-get install -y postgresql' (or set PGBIN)" >&2
		exit 1
	fi
	echo "$0: installing PostgreSQL with apt" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq postgresql >/dev/null
	PGBIN="$(find_pgbin)"
fi

# initdb refuses to run as root: use the postgres account (created by the
# package) or another unprivileged one.
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
	PGUSER_OS="${PGUSER_OS:-postgres}"
	if ! id "$PGUSER_OS" >/dev/null 2>&1; then
		useradd --system --no-create-home "$PGUSER_OS"
	fi
	RUNAS=(runuser -u "$PGUSER_OS" --)
fi

DIR="$(mktemp -d "${TMPDIR:-/tmp}/webhook-pg.XXXXXX")"
chmod 755 "$DIR"
if [ ${#RUNAS[@]} -gt 0 ]; then chown "$PGUSER_OS" "$DIR"; fi

cleanup() {
	"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT

"${RUNAS[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
	"${RUNAS[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 || {
	cat "$DIR/initdb.log" >&2
	echo "$0: initdb failed" >&2
	exit 1
}

durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if [ "${PG_FSYNC:-off}" = "on" ]; then durability=""; fi

started=""
for attempt in 1 2 3 4 5; do
	PORT=$((20000 + RANDOM % 20000))
	if "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
		-o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=400 $durability" start >/dev/null 2>&1; then
		started=yes
		break
	fi
done
if [ -z "$started" ]; then
	cat "$DIR/server.log" >&2 || true
	echo "$0: PostgreSQL did not start" >&2
	exit 1
fi
for _ in $(seq 1 60); do
	if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then break; fi
	sleep 0.5
done
"$PGBIN/pg_isready" -h 127.0.0.1 -p "$PORT" >/dev/null || {
	echo "$0: PostgreSQL does not accept connections on 127.0.0.1:$PORT" >&2
	exit 1
}

export WEBHOOK_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
echo "$0: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
set +e
"$@"
status=$?
set -e
exit $status
