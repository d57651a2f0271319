#!/usr/bin/env bash
# Make sure a local PostgreSQL answers before the tests run; start the local cluster if we can,
# and create the role and database the tests use (root / test) when they are missing.
# Without PostgreSQL the PostgreSQL tests are skipped with a reason; in CI (CI set) this fails.
set -u

reachable() {
  if [ -n "${AGENTLENS_TEST_PG_DSN:-}" ]; then
    pg_isready -q -d "$AGENTLENS_TEST_PG_DSN" 2>/dev/null
    return
  fi
  pg_isready -q -h /var/run/postgresql 2>/dev/null || pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null
}

give_up() {
  echo "PostgreSQL is not reachable: $1" >&2
  if [ -n "${CI:-}" ]; then
    echo "CI requires PostgreSQL (its tests must run); failing." >&2
    exit 1
  fi
  echo "PostgreSQL tests will be skipped (set AGENTLENS_TEST_PG_DSN to point at a server)." >&2
  exit 0
}

if ! reachable; then
  command -v pg_isready >/dev/null 2>&1 || give_up "pg_isready not found (install postgresql-client)"
  if [ -n "${AGENTLENS_TEST_PG_DSN:-}" ] || ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
    give_up "no local cluster to start"
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "starting PostgreSQL $version cluster 'main'" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    reachable && break
    sleep 1
  done
  reachable || give_up "the local cluster did not start (see /var/log/postgresql/)"
fi

# The default test DSNs connect as role root to database test (trust auth on the local socket).
if [ -z "${AGENTLENS_TEST_PG_DSN:-}" ] && ! psql -h /var/run/postgresql -U root -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1; then
    as_postgres() { runuser -u postgres -- "$@"; }
    as_postgres psql -h /var/run/postgresql -Atqc "SELECT 1 FROM pg_roles WHERE rolname = 'root'" | grep -q 1 \
      || as_postgres psql -h /var/run/postgresql -qc "CREATE ROLE root SUPERUSER LOGIN" >&2
    as_postgres psql -h /var/run/postgresql -Atqc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
      || as_postgres createdb -h /var/run/postgresql -O root test >&2
  fi
  psql -h /var/run/postgresql -U root -d test -Atqc 'SELECT 1' >/dev/null 2>&1 \
    || give_up "cannot connect as role root to database test"
fi
exit 0
