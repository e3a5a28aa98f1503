#!/usr/bin/env bash
# The raw PostgreSQL ceiling of the ledger's hot path: pgbench runs the bare core of one debit
# (take an amount off a balance when it covers it, append an entry with a fresh request id) as
# one statement, on scratch tables of its own, with nothing of ours in between.
#   spread: each transaction picks one of 10,000 balances at random
#   hot:    every transaction hits the same balance
# Prints "pg_limit spread_tps=N" and "pg_limit hot_tps=N". Compare our own figures with these in
# the same run, as ratios; an absolute figure from another run or machine says little.
# Usage: bench/pg_limit.sh [seconds=10] [clients=8]   (psql/pgbench and a server: PG* variables or the local socket)
set -euo pipefail
seconds=${1:-10}
clients=${2:-8}
db=${PG_LIMIT_DB:-b2b_pg_limit}
work=$(mktemp -d)
cleanup() { rm -rf "$work"; dropdb --if-exists "$db" >/dev/null 2>&1 || true; }
trap cleanup EXIT
dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
psql -q -v ON_ERROR_STOP=1 "$db" <<'SQL'
CREATE TABLE wallet (
    id bigserial PRIMARY KEY,
    wallet_key text NOT NULL UNIQUE,
    currency char(3) NOT NULL,
    amount numeric(30, 8) NOT NULL CHECK (amount >= 0)
);
CREATE TABLE movement (
    id bigserial PRIMARY KEY,
    request_key text NOT NULL UNIQUE,
    wallet_id bigint NOT NULL REFERENCES wallet (id),
    kind text NOT NULL,
    amount numeric(30, 8) NOT NULL,
    amount_after numeric(30, 8) NOT NULL,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO wallet (wallet_key, currency, amount)
SELECT 'w' || n || '_USD', 'USD', 1000000000 FROM generate_series(1, 10000) AS n;
ANALYZE;
SQL
# One transaction = one statement: the conditional UPDATE and the INSERT of its entry.
cat > "$work/spread.sql" <<'SQL'
\set w random(1, 10000)
WITH taken AS (
    UPDATE wallet SET amount = amount - 1.25
    WHERE wallet_key = 'w' || :w || '_USD' AND amount >= 1.25
    RETURNING id, amount
)
INSERT INTO movement (request_key, wallet_id, kind, amount, amount_after, note)
SELECT md5(random()::text || clock_timestamp()::text), taken.id, 'debit', 1.25, taken.amount, 'ceiling'
FROM taken;
SQL
sed 's/^\\set w random(1, 10000)$/\\set w 1/' "$work/spread.sql" > "$work/hot.sql"
for scenario in spread hot; do
  tps=$(pgbench -n -f "$work/$scenario.sql" -c "$clients" -j 2 -T "$seconds" "$db" 2>/dev/null |
        awk '/^tps = / {print int($3)}')
  echo "pg_limit ${scenario}_tps=${tps:-0}"
done
