#!/usr/bin/env bash
# Install and start a local PostgreSQL for a gateway (or several) that keep their job table there,
# without systemd. Creates the role and database 'wpsgate' (password 'wpsgate') reachable on
# 127.0.0.1:5432, so a gateway can use
#   database: {url: "postgresql+psycopg2://wpsgate:wpsgate@127.0.0.1/wpsgate"}
# Idempotent; run as root. Stop with: pg_ctlcluster <version> main stop
set -euo pipefail

log() { printf '[postgres] %s\n' "$*"; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^${version} main"; then
    pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
    log "starting cluster ${version}/main"
    pg_ctlcluster "$version" main start
fi
for _ in $(seq 1 60); do
    runuser -u postgres -- psql -qtAc 'select 1' >/dev/null 2>&1 && break
    sleep 0.5
done
runuser -u postgres -- psql -qtAc 'select 1' >/dev/null
if [ "$(runuser -u postgres -- psql -qtAc "select 1 from pg_roles where rolname = 'wpsgate'")" != "1" ]; then
    runuser -u postgres -- psql -qc "create role wpsgate login createdb password 'wpsgate'"
fi
if [ "$(runuser -u postgres -- psql -qtAc "select 1 from pg_database where datname = 'wpsgate'")" != "1" ]; then
    runuser -u postgres -- psql -qc "create database wpsgate owner wpsgate"
fi
log "PostgreSQL ${version} is running: postgresql+psycopg2://wpsgate:wpsgate@127.0.0.1/wpsgate"
log "restart: pg_ctlcluster ${version} main restart   stop: pg_ctlcluster ${version} main stop"
