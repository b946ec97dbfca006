#!/usr/bin/env bash
# Start/stop the local PostgreSQL, Redis and Neo4j that minutes needs (dev machines and CI).
#
#   scripts/services.sh start   # install if missing, start, create role/db; idempotent
#   scripts/services.sh stop    # best-effort stop of all three
#
# Runs as root (CI does). No systemd is assumed: PostgreSQL is driven through
# Debian's pg_ctlcluster, Redis is started as a plain daemon, and Neo4j Community 5.26 is
# the embedded one of graphdb/ (built with Maven, run on Java 17) with Bolt on loopback.
set -euo pipefail

PG_PORT=5432
REDIS_PORT=6379
NEO4J_PORT=${MINUTES_NEO4J_PORT:-7687}
GRAPHDB="$(cd "$(dirname "$0")/.." && pwd)/graphdb"
# Data, log and pid of the local Neo4j; outside the checkout, so a fresh clone reuses it.
NEO4J_HOME=${MINUTES_NEO4J_HOME:-/var/lib/minutes-neo4j}
DB=minutes   # role, password and database name are all "minutes"

die() { echo "services.sh: $*" >&2; exit 1; }

# wait_for DESCRIPTION CMD...: poll for ~20 s so a broken service fails loudly, not forever.
wait_for() {
    local what=$1; shift
    for _ in $(seq 80); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
    die "$what did not come up within 20 s"
}

pg_version() { ls /usr/lib/postgresql/ 2>/dev/null | sort -V | tail -n1; }
as_postgres() { runuser -u postgres -- psql -p "$PG_PORT" -X -q -v ON_ERROR_STOP=1 "$@"; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

install_if_missing() {
    local v; v=$(pg_version)
    if command -v pg_ctlcluster >/dev/null && [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/postgres" ] \
        && command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
        && command -v java >/dev/null && command -v mvn >/dev/null \
        && command -v espeak-ng >/dev/null && command -v sox >/dev/null; then
        return
    fi
    # espeak-ng and sox render the speech of the language and phone-audio tests.
    echo "installing postgresql, redis-server, java, maven, espeak-ng and sox (apt)..."
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql redis-server \
        openjdk-17-jdk-headless maven espeak-ng sox >/dev/null
}

start_postgres() {
    local v; v=$(pg_version)
    [ -n "$v" ] || die "no PostgreSQL found in /usr/lib/postgresql"
    # The Debian package normally creates "main"; a stripped image may not have it.
    [ -f "/etc/postgresql/$v/main/postgresql.conf" ] || pg_createcluster -p "$PG_PORT" "$v" main >/dev/null

    # Loopback IPv4 only, fixed port, via a conf.d drop-in (pg_lsclusters reads it
    # too). Rewritten only when different, since a change needs a restart.
    local changed=0 conf="/etc/postgresql/$v/main/conf.d/minutes.conf"
    local want="listen_addresses = '127.0.0.1'
port = $PG_PORT"
    if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
        echo "$want" >"$conf"; changed=1
    fi
    # Password logins over TCP need a scram/md5 rule for 127.0.0.1 (Debian ships one; keep it so).
    local hba="/etc/postgresql/$v/main/pg_hba.conf"
    if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+(scram-sha-256|md5)' "$hba"; then
        sed -i '1i host all all 127.0.0.1/32 scram-sha-256' "$hba"; changed=1
    fi

    if pg_ctlcluster "$v" main status >/dev/null 2>&1; then
        [ "$changed" = 0 ] || pg_ctlcluster "$v" main restart
    else
        pg_ctlcluster "$v" main start
    fi
    wait_for "postgresql $v" pg_isready -q -h 127.0.0.1 -p "$PG_PORT"

    # Role and database; ALTER ROLE every time so a changed password is put back.
    as_postgres -c "DO \$\$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB') THEN CREATE ROLE $DB; END IF;
        END \$\$;" -c "ALTER ROLE $DB LOGIN CREATEDB PASSWORD '$DB'"
    if [ "$(as_postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
        as_postgres -c "CREATE DATABASE $DB OWNER $DB"
    fi

    # Versions of this script before 2026-11-26 turned durability off for the whole server
    # (ALTER SYSTEM, kept in postgresql.auto.conf until reset) to speed up the tests; the
    # tests now ask that of their own databases only. Undo exactly what they left (all
    # three off), never a setting the machine's owner chose. A reload applies it.
    local auto; auto="$(as_postgres -tAc 'SHOW data_directory')/postgresql.auto.conf"
    if grep -qx "fsync = 'off'" "$auto" && grep -qx "synchronous_commit = 'off'" "$auto" \
        && grep -qx "full_page_writes = 'off'" "$auto"; then
        # ALTER SYSTEM can't share a transaction, hence one -c per statement.
        as_postgres -c "ALTER SYSTEM RESET fsync" -c "ALTER SYSTEM RESET synchronous_commit" \
            -c "ALTER SYSTEM RESET full_page_writes" -c "SELECT pg_reload_conf()" >/dev/null
        echo "postgresql: put back fsync, synchronous_commit and full_page_writes"
    fi

    # Prove the app's own login path (TCP + password) works, not just the server.
    PGPASSWORD=$DB psql -X -h 127.0.0.1 -p "$PG_PORT" -U "$DB" -d "$DB" -tAc 'select 1' >/dev/null \
        || die "postgresql is up but password login as '$DB' on 127.0.0.1 failed"
    echo "postgresql $v ready on 127.0.0.1:$PG_PORT"
}

start_redis() {
    if ! redis_up; then
        # No persistence: a dev/CI redis holds nothing worth keeping across restarts.
        redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
    fi
    wait_for redis redis_up
    echo "redis ready on 127.0.0.1:$REDIS_PORT"
}

neo4j_up() { (exec 3<>"/dev/tcp/127.0.0.1/$NEO4J_PORT") 2>/dev/null; }

start_neo4j() {
    if neo4j_up; then
        echo "neo4j already listening on 127.0.0.1:$NEO4J_PORT"
        return
    fi
    # Built once (Maven keeps its downloads in ~/.m2), again when the launcher changes.
    local jar="$GRAPHDB/target/graphdb-1.jar"
    if [ ! -f "$jar" ] || [ "$GRAPHDB/pom.xml" -nt "$jar" ] \
        || [ -n "$(find "$GRAPHDB/src" -newer "$jar" -type f)" ]; then
        echo "building graphdb (Neo4j Community 5.26, from Maven Central)..."
        mkdir -p "$NEO4J_HOME"
        # Maven 3.8 writes colour resets to stderr even in batch mode: its output is shown
        # only when the build fails.
        mvn -q -B -Dstyle.color=never -f "$GRAPHDB/pom.xml" package >"$NEO4J_HOME/build.log" 2>&1 \
            || { cat "$NEO4J_HOME/build.log" >&2; die "mvn package of graphdb failed"; }
    fi
    mkdir -p "$NEO4J_HOME"
    # Heap and page cache sized for a 2-core CI machine, not half of its memory.
    nohup java -Xms256m -Xmx768m -XX:+UseSerialGC \
        -Dgraphdb.data="$NEO4J_HOME/data" -Dgraphdb.port="$NEO4J_PORT" -Dgraphdb.pagecache=128 \
        -cp "$jar:$(cat "$GRAPHDB/target/classpath.txt")" minutes.graphdb.LocalNeo4j \
        >"$NEO4J_HOME/neo4j.log" 2>&1 &
    echo $! >"$NEO4J_HOME/neo4j.pid"
    for _ in $(seq 240); do
        neo4j_up && { echo "neo4j ready on 127.0.0.1:$NEO4J_PORT"; return; }
        kill -0 "$(cat "$NEO4J_HOME/neo4j.pid")" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 20 "$NEO4J_HOME/neo4j.log" >&2
    die "neo4j did not come up (log: $NEO4J_HOME/neo4j.log)"
}

stop_all() {
    local v; v=$(pg_version)
    if [ -n "$v" ] && pg_ctlcluster "$v" main status >/dev/null 2>&1; then
        pg_ctlcluster "$v" main stop || true
    fi
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    if [ -f "$NEO4J_HOME/neo4j.pid" ]; then
        kill -TERM "$(cat "$NEO4J_HOME/neo4j.pid")" 2>/dev/null || true  # a clean shutdown
        rm -f "$NEO4J_HOME/neo4j.pid"
    fi
    echo "services stopped"
}

[ "$(id -u)" = 0 ] || die "must run as root"
case "${1:-}" in
    start) install_if_missing; start_postgres; start_redis; start_neo4j ;;
    stop) stop_all ;;
    *) die "usage: $0 start|stop" ;;
esac
