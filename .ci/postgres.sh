# shellcheck shell=bash
# Brings up the machine's PostgreSQL 15 for the store's test suite and exports
# TAGSYNC_TEST_DATABASE_URL, which makes `tests/it/store.rs` run every story on PostgreSQL too.
#
# Sourced by .ci/run (`source .ci/postgres.sh`); also runnable on its own. Idempotent: every step
# checks before it acts, so sourcing it twice, or on a machine where PostgreSQL already runs, is fine.
# Nothing is kept between CI machines: the cluster, role and database are made here when missing.
# It never calls `exit` when sourced, and works under the caller's `set -euo pipefail`.

tagsync_postgres_setup() {
    local version=15 cluster=main
    local role=tagsync password=tagsync database=tagsync_test
    local status port

    # As the postgres superuser, from a directory it can read (psql warns otherwise).
    tagsync_as_postgres() { (cd / && runuser -u postgres -- "$@"); }

    if ! pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { f = 1 } END { exit !f }'; then
        echo "postgres.sh: creating cluster $version/$cluster" >&2
        pg_createcluster "$version" "$cluster" >/dev/null || return 1
    fi
    status=$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $4 }')
    port=$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $3 }')
    if [[ $status != online* ]]; then
        echo "postgres.sh: starting cluster $version/$cluster on port $port" >&2
        # Exit status 2 means "already running": a race with another starter, not a failure.
        pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || [[ $? -eq 2 ]] || return 1
    fi

    local tries=0
    until pg_isready --quiet --host 127.0.0.1 --port "$port"; do
        if (( ++tries >= 60 )); then
            echo "postgres.sh: PostgreSQL on 127.0.0.1:$port is not accepting connections after 30 s" >&2
            return 1
        fi
        sleep 0.5
    done

    local psql=(psql --no-psqlrc --quiet --tuples-only --no-align --set ON_ERROR_STOP=1 --port "$port")
    # The one test binary runs its PostgreSQL tests in parallel, and the fleet test adds three
    # daemon replicas with their own pools: Debian's default of 100 connections is too few.
    if (( $(tagsync_as_postgres "${psql[@]}" -c "SHOW max_connections") < 300 )); then
        echo "postgres.sh: raising max_connections to 300 (restart)" >&2
        tagsync_as_postgres "${psql[@]}" -c "ALTER SYSTEM SET max_connections = 300" || return 1
        pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" restart || return 1
        tries=0
        until pg_isready --quiet --host 127.0.0.1 --port "$port"; do
            if (( ++tries >= 60 )); then
                echo "postgres.sh: PostgreSQL did not come back after its restart" >&2
                return 1
            fi
            sleep 0.5
        done
    fi
    if [[ -z $(tagsync_as_postgres "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'") ]]; then
        tagsync_as_postgres "${psql[@]}" -c "CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password'" || return 1
    else
        # Keep an existing role usable by the tests whatever it was left as.
        tagsync_as_postgres "${psql[@]}" -c "ALTER ROLE $role LOGIN CREATEDB PASSWORD '$password'" || return 1
    fi
    if [[ -z $(tagsync_as_postgres "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$database'") ]]; then
        tagsync_as_postgres createdb --port "$port" --owner "$role" "$database" || return 1
    fi

    export TAGSYNC_TEST_DATABASE_URL="postgres://$role:$password@127.0.0.1:$port/$database"
    echo "postgres.sh: PostgreSQL ready for the tests on 127.0.0.1:$port/$database" >&2
}

if ! tagsync_postgres_setup; then
    unset -f tagsync_postgres_setup tagsync_as_postgres
    echo "postgres.sh: PostgreSQL setup failed" >&2
    # `return` when sourced, `exit` when run on its own.
    return 1 2>/dev/null || exit 1
fi
unset -f tagsync_postgres_setup tagsync_as_postgres
