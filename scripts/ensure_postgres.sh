#!/usr/bin/env bash
# Make sure a local PostgreSQL answers before the tests run; start the local cluster if we can.
# Without PostgreSQL the PostgreSQL tests are skipped with a reason (in CI they fail instead).
set -u
if pg_isready -q -h /var/run/postgresql 2>/dev/null || pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "starting PostgreSQL $version cluster 'main'" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    pg_isready -q -h /var/run/postgresql 2>/dev/null && exit 0
    sleep 1
  done
fi
echo "PostgreSQL is not reachable: PostgreSQL tests will be skipped (set AGENTLENS_TEST_PG_DSN to point at one)" >&2
exit 0
