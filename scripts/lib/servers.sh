# shellcheck shell=bash
# Private MariaDB + PostgreSQL servers for osmigrate's tests and benchmarks.
#
# Source this file from bash (it expects `set -euo pipefail` to be compatible),
# then:
#     osm_servers_setup_traps   # stop servers + remove temp dir on EXIT/INT/TERM
#     osm_servers_start         # install missing packages (root), start both
#     ... use $OSMIGRATE_TEST_MYSQL_URL / $OSMIGRATE_TEST_POSTGRES_URL ...
#     osm_servers_stop          # idempotent; also run by the traps
#
# The servers listen on 127.0.0.1 only, on free ports, with all their data,
# sockets and logs in a fresh temporary directory. System services and
# /var/lib/mysql are never used. As root, both servers run as the
# unprivileged system user `osmigrate-test` (PostgreSQL refuses to run as root).

OSM_TEST_USER=${OSM_TEST_USER:-osmigrate-test}
OSM_DB_USER=osmigrate
OSM_DB_PASSWORD=osmigrate-pw
OSM_START_TIMEOUT=${OSM_START_TIMEOUT:-60}

OSM_TMP=""
OSM_MYSQL_PORT=""
OSM_PG_PORT=""
OSM_MYSQL_STARTED=0
OSM_PG_STARTED=0
OSM_RUN_AS=()          # prefix to run a command as the server user (empty if not root)

osm_log() { printf '[servers] %s\n' "$*" >&2; }
osm_die() { printf '[servers] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- packages --

osm_pg_bindir() {
    # Newest PostgreSQL major version installed under /usr/lib/postgresql.
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        if ! [ -x "$d/initdb" ] || ! [ -x "$d/pg_ctl" ] || ! [ -x "$d/postgres" ]; then
            continue
        fi
        if [ -z "$best" ] || [ "$(basename "$(dirname "$d")")" -gt "$(basename "$(dirname "$best")")" ] 2>/dev/null; then
            best=$d
        fi
    done
    [ -n "$best" ] && printf '%s\n' "$best"
}

osm_find_cmd() {
    # First of the given command names found in PATH or the sbin directories.
    local name dir
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
        for dir in /usr/sbin /sbin /usr/local/sbin /usr/bin; do
            if [ -x "$dir/$name" ]; then printf '%s\n' "$dir/$name"; return 0; fi
        done
    done
    return 1
}

osm_missing_packages() {
    local missing=()
    osm_find_cmd mariadbd mysqld >/dev/null || missing+=(mariadb-server)
    osm_find_cmd mariadb-install-db mysql_install_db >/dev/null || missing+=(mariadb-server)
    osm_find_cmd mariadb mysql >/dev/null || missing+=(mariadb-client)
    osm_pg_bindir >/dev/null || missing+=(postgresql)
    osm_find_cmd psql >/dev/null || missing+=(postgresql-client)
    osm_find_cmd sqlite3 >/dev/null || missing+=(sqlite3)
    # Space-separated, without duplicates.
    [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}" | sort -u | paste -sd ' ' -
}

osm_apt_get() {
    # apt-get that copes with another apt-get/dpkg running in the background:
    # dpkg's lock is waited on (DPkg::Lock::Timeout), and the locks that apt
    # does not wait on (lists/ for update, archives/ for downloads) are
    # handled by retrying for up to 15 minutes.
    local deadline=$(( SECONDS + 900 )) attempt=0
    while :; do
        attempt=$(( attempt + 1 ))
        if DEBIAN_FRONTEND=noninteractive apt-get -q -y \
            -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            "$@"; then
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || return 1
        osm_log "apt-get $1 failed (attempt $attempt; another apt may be running); retrying in 10 s"
        sleep 10
    done
}

osm_ensure_packages() {
    local missing
    missing=$(osm_missing_packages)
    [ -n "$missing" ] || return 0
    if [ "$(id -u)" -ne 0 ]; then
        osm_die "missing packages: $missing; install them (as root: apt-get install $missing)"
    fi
    osm_log "installing: $missing"
    osm_apt_get update >/dev/null || osm_die "apt-get update failed"
    # shellcheck disable=SC2086
    osm_apt_get install --no-install-recommends $missing >/dev/null || osm_die "apt-get install failed"
    missing=$(osm_missing_packages)
    [ -z "$missing" ] || osm_die "still missing after install: $missing"
}

# ------------------------------------------------------------------ helpers --

osm_as_user() {
    # Run a command as the server user, from inside the temp dir (so that the
    # server user never needs access to the caller's cwd).
    ( cd "$OSM_TMP" && "${OSM_RUN_AS[@]}" "$@" )
}

osm_port_in_use() {
    # True if something listens on 127.0.0.1:$1.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

osm_pick_port() {
    # A currently free TCP port below the kernel's ephemeral range (so that
    # outgoing connections never grab it). Races with other processes are
    # handled by the callers, which retry with another port if bind fails.
    local low=15000 high=32000 port i
    for i in $(seq 1 200); do
        port=$(( low + (RANDOM * 32768 + RANDOM) % (high - low) ))
        osm_port_in_use "$port" || { printf '%s\n' "$port"; return 0; }
    done
    osm_die "could not find a free TCP port"
}

osm_pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

osm_show_log() {
    local f=$1
    printf '[servers] ----- %s (last 60 lines) -----\n' "$f" >&2
    tail -n 60 "$f" >&2 2>/dev/null || true
    printf '[servers] ----- end of %s -----\n' "$f" >&2
}

osm_prepare_tmp() {
    OSM_TMP=$(mktemp -d /tmp/osm.XXXXXX)
    chmod 755 "$OSM_TMP"
    if [ "$(id -u)" -eq 0 ]; then
        if ! getent passwd "$OSM_TEST_USER" >/dev/null; then
            osm_log "creating system user $OSM_TEST_USER"
            useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$OSM_TEST_USER" 2>/dev/null \
                || getent passwd "$OSM_TEST_USER" >/dev/null \
                || osm_die "could not create user $OSM_TEST_USER"
        fi
        chown "$OSM_TEST_USER:" "$OSM_TMP"
        OSM_RUN_AS=(runuser -u "$OSM_TEST_USER" --)
    else
        OSM_RUN_AS=()
    fi
}

# ------------------------------------------------------------------ MariaDB --

osm_mysql_start() {
    local mysqld install_db client admin dir attempt deadline pid
    mysqld=$(osm_find_cmd mariadbd mysqld) || osm_die "mariadbd/mysqld not found"
    install_db=$(osm_find_cmd mariadb-install-db mysql_install_db) || osm_die "mariadb-install-db not found"
    client=$(osm_find_cmd mariadb mysql) || osm_die "mariadb client not found"
    admin=$(osm_find_cmd mariadb-admin mysqladmin) || osm_die "mariadb-admin not found"
    dir=$OSM_TMP/my
    osm_as_user mkdir -p "$dir/data" "$dir/tmp"

    osm_log "initializing MariaDB ($("$mysqld" --version 2>/dev/null | sed 's/^.*Ver //'))"
    if ! osm_as_user "$install_db" --no-defaults --datadir="$dir/data" \
            --auth-root-authentication-method=normal --skip-test-db \
            --skip-name-resolve >"$dir/install.log" 2>&1; then
        osm_show_log "$dir/install.log"
        osm_die "mariadb-install-db failed"
    fi

    for attempt in 1 2 3 4 5; do
        OSM_MYSQL_PORT=$(osm_pick_port)
        rm -f "$dir/mysqld.pid" "$dir/sock"
        # setsid: the server gets no terminal signals (Ctrl-C); the traps stop it.
        ( cd "$OSM_TMP" && exec setsid "${OSM_RUN_AS[@]}" "$mysqld" --no-defaults \
            --datadir="$dir/data" --tmpdir="$dir/tmp" \
            --skip-networking=0 --bind-address=127.0.0.1 --port="$OSM_MYSQL_PORT" \
            --socket="$dir/sock" --pid-file="$dir/mysqld.pid" \
            --log-error="$dir/error.log" --skip-name-resolve --skip-log-bin \
            --innodb-buffer-pool-size="${OSM_MYSQL_BUFFER_POOL:-1G}" \
            </dev/null >>"$dir/stdout.log" 2>&1 ) &
        pid=$!
        OSM_MYSQL_STARTED=1
        deadline=$(( SECONDS + OSM_START_TIMEOUT ))
        while :; do
            if [ -S "$dir/sock" ] && "$admin" --no-defaults --socket="$dir/sock" -uroot \
                    --connect-timeout=2 status >/dev/null 2>&1; then
                break 2
            fi
            if ! osm_pid_alive "$pid"; then
                wait "$pid" 2>/dev/null || true
                if grep -qiE 'address already in use|errno: 98|error: 98' "$dir/error.log" 2>/dev/null; then
                    osm_log "MariaDB: port $OSM_MYSQL_PORT taken, retrying with another"
                    : >"$dir/error.log"
                    continue 2
                fi
                osm_show_log "$dir/error.log"
                osm_die "MariaDB exited during startup"
            fi
            if [ "$SECONDS" -ge "$deadline" ]; then
                osm_show_log "$dir/error.log"
                osm_die "MariaDB did not accept connections within ${OSM_START_TIMEOUT}s"
            fi
            sleep 0.2
        done
    done
    [ -S "$dir/sock" ] || osm_die "MariaDB could not bind a port after 5 attempts"

    "$client" --no-defaults --socket="$dir/sock" -uroot --batch <<SQL || { osm_show_log "$dir/error.log"; osm_die "could not create MariaDB user"; }
DELETE FROM mysql.global_priv WHERE User = '';
FLUSH PRIVILEGES;
CREATE USER '$OSM_DB_USER'@'127.0.0.1' IDENTIFIED BY '$OSM_DB_PASSWORD';
CREATE USER '$OSM_DB_USER'@'localhost' IDENTIFIED BY '$OSM_DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$OSM_DB_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$OSM_DB_USER'@'localhost' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
    # Check the path the tests use: TCP + password.
    "$client" --no-defaults --protocol=TCP -h 127.0.0.1 -P "$OSM_MYSQL_PORT" \
        -u "$OSM_DB_USER" -p"$OSM_DB_PASSWORD" --batch -e 'SELECT 1' >/dev/null \
        || { osm_show_log "$dir/error.log"; osm_die "cannot log in to MariaDB over TCP"; }
    osm_log "MariaDB ready on 127.0.0.1:$OSM_MYSQL_PORT (data in $dir)"
}

osm_mysql_stop() {
    [ "$OSM_MYSQL_STARTED" = 1 ] || return 0
    OSM_MYSQL_STARTED=0
    local dir=$OSM_TMP/my pid="" i
    [ -f "$dir/mysqld.pid" ] && pid=$(cat "$dir/mysqld.pid" 2>/dev/null || true)
    if ! osm_pid_alive "$pid"; then
        pid=$(osm_tmp_pids "$dir" | head -n 1)
    fi
    osm_pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 300); do
        osm_pid_alive "$pid" || return 0
        sleep 0.1
    done
    osm_log "MariaDB (pid $pid) did not stop within 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

# --------------------------------------------------------------- PostgreSQL --

osm_pg_start() {
    local bin dir attempt opts
    bin=$(osm_pg_bindir) || osm_die "PostgreSQL server binaries not found under /usr/lib/postgresql"
    dir=$OSM_TMP/pg
    osm_as_user mkdir -p "$dir/sock"
    printf '%s\n' "$OSM_DB_PASSWORD" >"$OSM_TMP/pgpw"
    [ "${#OSM_RUN_AS[@]}" -eq 0 ] || chown "$OSM_TEST_USER:" "$OSM_TMP/pgpw"
    chmod 600 "$OSM_TMP/pgpw"

    osm_log "initializing PostgreSQL ($("$bin/postgres" --version))"
    if ! osm_as_user "$bin/initdb" -D "$dir/data" -U "$OSM_DB_USER" --pwfile="$OSM_TMP/pgpw" \
            --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C \
            --no-instructions >"$dir/initdb.log" 2>&1; then
        osm_show_log "$dir/initdb.log"
        osm_die "initdb failed"
    fi
    rm -f "$OSM_TMP/pgpw"

    for attempt in 1 2 3 4 5; do
        OSM_PG_PORT=$(osm_pick_port)
        opts="-c listen_addresses=127.0.0.1 -c port=$OSM_PG_PORT -c unix_socket_directories=$dir/sock -c max_connections=200"
        OSM_PG_STARTED=1
        # pg_ctl daemonizes postgres (own session, no terminal signals) and -w
        # waits until it accepts connections.
        if osm_as_user setsid "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
                -w -t "$OSM_START_TIMEOUT" -o "$opts" start </dev/null >"$dir/pg_ctl.log" 2>&1; then
            break
        fi
        if grep -qiE 'could not bind|address already in use' "$dir/server.log" 2>/dev/null; then
            osm_log "PostgreSQL: port $OSM_PG_PORT taken, retrying with another"
            : >"$dir/server.log"
            continue
        fi
        cat "$dir/pg_ctl.log" >&2
        osm_show_log "$dir/server.log"
        osm_die "PostgreSQL did not start within ${OSM_START_TIMEOUT}s"
    done
    osm_pid_alive "$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)" \
        || osm_die "PostgreSQL could not bind a port after 5 attempts"

    local psql
    psql=$(osm_find_cmd psql) || osm_die "psql not found"
    PGCONNECT_TIMEOUT=5 "$psql" -X -q -v ON_ERROR_STOP=1 \
        "postgresql://$OSM_DB_USER:$OSM_DB_PASSWORD@127.0.0.1:$OSM_PG_PORT/postgres" \
        -c 'SELECT 1' >/dev/null \
        || { osm_show_log "$dir/server.log"; osm_die "cannot log in to PostgreSQL over TCP"; }
    osm_log "PostgreSQL ready on 127.0.0.1:$OSM_PG_PORT (data in $dir)"
}

osm_pg_stop() {
    [ "$OSM_PG_STARTED" = 1 ] || return 0
    OSM_PG_STARTED=0
    local bin dir=$OSM_TMP/pg pid="" i
    [ -f "$dir/data/postmaster.pid" ] || return 0
    pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    osm_pid_alive "$pid" || return 0
    bin=$(osm_pg_bindir || true)
    if [ -n "$bin" ]; then
        osm_as_user "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    for i in $(seq 1 100); do
        osm_pid_alive "$pid" || return 0
        [ "$i" = 1 ] && kill -INT "$pid" 2>/dev/null   # fast shutdown, if pg_ctl failed
        sleep 0.1
    done
    osm_log "PostgreSQL (pid $pid) did not stop; killing it"
    kill -QUIT "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- lifecycle --

osm_tmp_pids() {
    # PIDs of processes whose command line mentions the given directory.
    # Pure bash matching, so that no helper process of ours matches itself.
    local d=$1 p cmd
    for p in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        case $cmd in *"$d"*) printf '%s\n' "${p#/proc/}" ;; esac
    done
}

osm_servers_start() {
    osm_ensure_packages
    osm_prepare_tmp
    osm_log "temporary directory: $OSM_TMP"
    osm_mysql_start
    osm_pg_start
    export OSMIGRATE_TEST_MYSQL_URL="mysql://$OSM_DB_USER:$OSM_DB_PASSWORD@127.0.0.1:$OSM_MYSQL_PORT"
    export OSMIGRATE_TEST_POSTGRES_URL="postgresql://$OSM_DB_USER:$OSM_DB_PASSWORD@127.0.0.1:$OSM_PG_PORT"
    export OSMIGRATE_TEST_SERVERS=1
}

osm_servers_alive() {
    osm_pid_alive "$(cat "$OSM_TMP/my/mysqld.pid" 2>/dev/null)" \
        && osm_pid_alive "$(head -n 1 "$OSM_TMP/pg/data/postmaster.pid" 2>/dev/null)"
}

osm_servers_stop() {
    # Idempotent; safe to call from traps at any point of startup.
    [ -n "$OSM_TMP" ] || return 0
    osm_pg_stop || true
    osm_mysql_stop || true
    # Anything still running from our temp dir (e.g. a half-started server).
    local p
    for p in $(osm_tmp_pids "$OSM_TMP"); do
        [ "$p" = "$$" ] || [ "$p" = "${BASHPID:-}" ] && continue
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$OSM_TMP"
    OSM_TMP=""
}

osm__on_exit() {
    local status=$?
    trap - EXIT INT TERM
    osm_servers_stop
    exit "$status"
}

osm_servers_setup_traps() {
    trap osm__on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
