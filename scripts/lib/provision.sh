# shellcheck shell=bash
#
# scripts/lib/provision.sh: make PostgreSQL and Redis available for roamnode
# and export DATABASE_URL and REDIS_URL. See scripts/README.md.
#
# Use from a bash script:
#
#     source scripts/lib/provision.sh
#     provision roamnode 0      # default database name, default Redis db index
#
# or on its own, which prints export lines for eval:
#
#     eval "$(scripts/lib/provision.sh roamnode)"
#
# Each service is chosen in this order, independently:
#   a. DATABASE_URL / REDIS_URL already set: use them (wait until reachable);
#   b. a server already listens on 127.0.0.1:5432 / 127.0.0.1:6379: use it;
#   c. a Docker engine works: `docker compose up -d postgres redis`;
#   d. install Debian's postgresql / redis-server with apt-get and start them.
# Then the database named in DATABASE_URL is created when missing, and Go
# modules are downloaded.
#
# Every function reports its own errors and returns non-zero; none relies on
# `set -e` (which bash ignores inside a function called from `||`), so this
# file works both with and without `set -euo pipefail` in the caller.
#
# Settings (environment):
#   ROAMNODE_PROVISION_TIMEOUT  seconds to wait for each service (default 60)
#   ROAMNODE_PG_HOST_PORT       host port of the compose postgres (default 5432)
#   ROAMNODE_REDIS_HOST_PORT    host port of the compose redis (default 6379)

# Repository root: two levels above this file.
RN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

_rn_log() { printf 'provision: %s\n' "$*" >&2; }
_rn_err() {
	printf 'provision: error: %s\n' "$*" >&2
	return 1
}

# _rn_redact URL: the URL with any password replaced by ***.
_rn_redact() {
	printf '%s\n' "$1" | sed -E 's#(://[^:/@?]*):[^@/?]*@#\1:***@#'
}

# _rn_parse_url URL: sets _RN_SCHEME, _RN_AUTHORITY, _RN_HOST, _RN_PORT,
# _RN_PATH (no leading slash) and _RN_QUERY (with its leading "?", or empty).
_rn_parse_url() {
	local url=$1 rest hostport
	if [[ $url != *://* ]]; then
		_rn_err "not a URL: $(_rn_redact "$url") (expected scheme://[user[:password]@]host[:port]/...)"
		return 1
	fi
	_RN_SCHEME=${url%%://*}
	rest=${url#*://}
	_RN_QUERY=""
	if [[ $rest == *\?* ]]; then
		_RN_QUERY="?${rest#*\?}"
		rest=${rest%%\?*}
	fi
	_RN_AUTHORITY=${rest%%/*}
	_RN_PATH=""
	if [[ $rest == */* ]]; then
		_RN_PATH=${rest#*/}
	fi
	hostport=${_RN_AUTHORITY##*@}
	if [[ $hostport == \[* ]]; then # [ipv6]:port
		_RN_HOST=${hostport%%]*}
		_RN_HOST=${_RN_HOST#[}
		_RN_PORT=${hostport#*]}
		_RN_PORT=${_RN_PORT#:}
	elif [[ $hostport == *:* ]]; then
		_RN_HOST=${hostport%%:*}
		_RN_PORT=${hostport##*:}
	else
		_RN_HOST=$hostport
		_RN_PORT=""
	fi
	[[ -n $_RN_HOST ]] || _RN_HOST=localhost
	return 0
}

# _rn_timeout SECONDS CMD...: run CMD with a time limit when timeout(1) exists.
_rn_timeout() {
	local secs=$1
	shift
	if command -v timeout >/dev/null 2>&1; then
		timeout "$secs" "$@"
	else
		"$@"
	fi
}

# _rn_tcp_open HOST PORT: true when a TCP connection succeeds (bash /dev/tcp).
_rn_tcp_open() {
	# shellcheck disable=SC2016 # $1 and $2 expand in the child bash
	_rn_timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# _rn_pg_ready URL: true when a PostgreSQL server accepts connections.
_rn_pg_ready() {
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -t 3 -d "$1" >/dev/null 2>&1
		return
	fi
	_rn_parse_url "$1" 2>/dev/null || return 1
	_rn_tcp_open "$_RN_HOST" "${_RN_PORT:-5432}"
}

# _rn_resp_ping HOST PORT: PING a Redis server over bash /dev/tcp (RESP,
# without AUTH) and print its answer; used when redis-cli is missing.
_rn_resp_ping() {
	local line
	exec 3<>"/dev/tcp/$1/$2" || return 1
	printf 'PING\r\n' >&3
	IFS= read -r -t 3 line <&3 || return 1
	line=${line%$'\r'}
	printf '%s\n' "${line#+}"
}

# _rn_redis_ping URL: prints the server's answer to PING (PONG when ready).
_rn_redis_ping() {
	if command -v redis-cli >/dev/null 2>&1; then
		_rn_timeout 5 redis-cli -u "$1" --no-auth-warning ping 2>&1 | head -n 1 || true
		return 0
	fi
	_rn_parse_url "$1" 2>/dev/null || return 0
	_rn_timeout 5 bash -c "$(declare -f _rn_resp_ping); _rn_resp_ping \"\$1\" \"\$2\"" \
		_ "$_RN_HOST" "${_RN_PORT:-6379}" 2>/dev/null || true
	return 0
}

# _rn_redis_ready URL: true when the server answers PONG.
_rn_redis_ready() {
	[[ $(_rn_redis_ping "$1") == PONG ]]
}

# _rn_wait SECONDS CMD...: retry CMD once a second until it succeeds or
# SECONDS have passed.
_rn_wait() {
	local secs=$1 deadline
	shift
	deadline=$((SECONDS + secs))
	while ! "$@"; do
		if ((SECONDS >= deadline)); then
			return 1
		fi
		sleep 1
	done
	return 0
}

# _rn_sudo CMD...: run CMD as root (directly, or through passwordless sudo).
_rn_sudo() {
	if [[ ${EUID:-$(id -u)} -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		_rn_err "need root to run: $* (run as root, allow passwordless sudo, or set DATABASE_URL and REDIS_URL)"
		return 1
	fi
}

# _rn_apt_install PACKAGE...: install Debian packages (apt-get update once).
_rn_apt_install() {
	if ! command -v apt-get >/dev/null 2>&1; then
		_rn_err "apt-get not found: install $* yourself, or start Docker, or set DATABASE_URL and REDIS_URL"
		return 1
	fi
	local log
	log=$(mktemp "${TMPDIR:-/tmp}/roamnode-apt.XXXXXX") || return 1
	_rn_log "installing $* with apt-get (log: $log)"
	if [[ -z ${_RN_APT_UPDATED:-} ]]; then
		if ! _rn_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1; then
			tail -n 20 "$log" >&2
			_rn_err "apt-get update failed (log: $log)"
			return 1
		fi
		_RN_APT_UPDATED=1
	fi
	if ! _rn_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		_rn_err "apt-get install $* failed (log: $log)"
		return 1
	fi
	rm -f "$log"
	return 0
}

# --- Docker --------------------------------------------------------------

# _rn_compose ARGS...: docker compose (plugin or standalone) on our compose file.
_rn_compose() {
	if docker compose version >/dev/null 2>&1; then
		docker compose -f "$RN_ROOT/docker-compose.yml" --project-directory "$RN_ROOT" "$@"
	else
		docker-compose -f "$RN_ROOT/docker-compose.yml" --project-directory "$RN_ROOT" "$@"
	fi
}

# _rn_docker_works: true when a Docker engine answers and compose exists.
# Cached: the first answer holds for the rest of the run.
_rn_docker_works() {
	if [[ -z ${_RN_DOCKER:-} ]]; then
		_RN_DOCKER=no
		if command -v docker >/dev/null 2>&1 &&
			_rn_timeout 5 docker info >/dev/null 2>&1 &&
			{ docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }; then
			_RN_DOCKER=yes
		fi
	fi
	[[ $_RN_DOCKER == yes ]]
}

# _rn_compose_up SERVICE: start one compose service in the background.
_rn_compose_up() {
	local out
	if ! out=$(_rn_compose up -d "$1" 2>&1); then
		printf '%s\n' "$out" >&2
		_rn_err "docker compose up -d $1 failed"
		return 1
	fi
	return 0
}

# --- PostgreSQL ----------------------------------------------------------

# _rn_pg_local_cluster: prints "version name port status" of the local Debian
# cluster to use (the one on port 5432 if any, else the first), or nothing.
_rn_pg_local_cluster() {
	command -v pg_lsclusters >/dev/null 2>&1 || return 0
	pg_lsclusters -h 2>/dev/null | awk '
		{ line = $1 " " $2 " " $3 " " $4 }
		NR == 1 { first = line }
		$3 == 5432 && !found { found = line }
		END { if (found != "") print found; else if (first != "") print first }'
}

# _rn_pg_trust_loopback VERSION NAME PORT: make sure role postgres can log in over
# loopback TCP without a password, adding trust lines to pg_hba.conf if not.
_rn_pg_trust_loopback() {
	local ver=$1 name=$2 port=$3 hba tmp
	if psql -X -w -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
		return 0
	fi
	hba=/etc/postgresql/$ver/$name/pg_hba.conf
	if [[ ! -f $hba ]]; then
		_rn_err "cannot log in as postgres on 127.0.0.1:$port and $hba does not exist"
		return 1
	fi
	if ! grep -q '^# roamnode provision: trust on loopback' "$hba"; then
		_rn_log "postgres: allowing trust authentication on loopback in $hba (local development)"
		tmp=$(mktemp) || return 1
		{
			printf '# roamnode provision: trust on loopback for local development\n'
			printf 'host all all 127.0.0.1/32 trust\n'
			printf 'host all all ::1/128 trust\n'
			cat "$hba"
		} >"$tmp" || return 1
		# cp onto the existing file keeps its owner and mode.
		_rn_sudo cp "$tmp" "$hba" || {
			rm -f "$tmp"
			return 1
		}
		rm -f "$tmp"
	fi
	_rn_sudo pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload >/dev/null 2>&1 || true
	if ! _rn_wait 10 psql -X -w -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
		_rn_err "still cannot log in as postgres on 127.0.0.1:$port after editing $hba"
		return 1
	fi
	return 0
}

# _rn_pg_local DB TIMEOUT: install (if missing), create (if missing) and start the
# local Debian cluster; sets DATABASE_URL and _RN_PG_HOW.
_rn_pg_local() {
	local db=$1 timeout=$2 cluster ver name port status
	if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || ! command -v pg_ctlcluster >/dev/null 2>&1; then
		_rn_apt_install postgresql || return 1
	fi
	cluster=$(_rn_pg_local_cluster)
	if [[ -z $cluster ]]; then
		ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
		_rn_log "postgres: creating cluster $ver/main"
		_rn_sudo pg_createcluster "$ver" main >/dev/null || {
			_rn_err "pg_createcluster $ver main failed"
			return 1
		}
		cluster=$(_rn_pg_local_cluster)
	fi
	read -r ver name port status <<<"$cluster"
	if [[ -z ${port:-} ]]; then
		_rn_err "no PostgreSQL cluster found after installation (pg_lsclusters is empty)"
		return 1
	fi
	if [[ $status != online* ]]; then
		_rn_sudo pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start || {
			_rn_err "could not start PostgreSQL cluster $ver/$name (see /var/log/postgresql/postgresql-$ver-$name.log)"
			return 1
		}
	fi
	DATABASE_URL="postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
	if ! _rn_wait "$timeout" _rn_pg_ready "$DATABASE_URL"; then
		_rn_err "PostgreSQL cluster $ver/$name did not accept connections on 127.0.0.1:$port within ${timeout}s (see /var/log/postgresql/postgresql-$ver-$name.log)"
		return 1
	fi
	_rn_pg_trust_loopback "$ver" "$name" "$port" || return 1
	_RN_PG_HOW="local cluster $ver/$name"
	return 0
}

# _rn_psql_admin ARGS...: psql on the maintenance database of DATABASE_URL's
# server (or inside the compose container when that is the server).
_rn_psql_admin() {
	if [[ ${_RN_PG_DOCKER:-} == yes ]] && ! command -v psql >/dev/null 2>&1; then
		_rn_compose exec -T postgres psql -U postgres -d postgres "$@"
		return
	fi
	_rn_parse_url "$DATABASE_URL" || return 1
	PGCONNECT_TIMEOUT=5 psql "$_RN_SCHEME://$_RN_AUTHORITY/postgres$_RN_QUERY" "$@"
}

# _rn_pg_ensure_db: create the database named in DATABASE_URL when missing.
_rn_pg_ensure_db() {
	local db out
	_rn_parse_url "$DATABASE_URL" || return 1
	db=$_RN_PATH
	if [[ -z $db ]]; then
		return 0 # no database in the URL: the server's default for the user
	fi
	if ! command -v psql >/dev/null 2>&1 && [[ ${_RN_PG_DOCKER:-} != yes ]]; then
		if command -v apt-get >/dev/null 2>&1 && _rn_sudo true 2>/dev/null; then
			_rn_apt_install postgresql-client || return 1
		else
			_rn_log "postgres: psql not found, cannot check that database \"$db\" exists; create it if needed"
			return 0
		fi
	fi
	if command -v psql >/dev/null 2>&1 &&
		PGCONNECT_TIMEOUT=5 psql "$DATABASE_URL" -X -w -q -At -c 'SELECT 1' >/dev/null 2>&1; then
		return 0 # exists and we can log in
	fi
	if ! out=$(_rn_psql_admin -X -w -q -At -v ON_ERROR_STOP=1 -v dbname="$db" 2>&1 <<<"SELECT 1 FROM pg_database WHERE datname = :'dbname';"); then
		printf '%s\n' "$out" >&2
		_rn_err "cannot log in to PostgreSQL at $(_rn_redact "$DATABASE_URL") to check database \"$db\" (check the user, password and pg_hba.conf)"
		return 1
	fi
	if [[ $out == 1 ]]; then
		return 0
	fi
	if ! out=$(_rn_psql_admin -X -w -q -v ON_ERROR_STOP=1 -v dbname="$db" 2>&1 <<<'CREATE DATABASE :"dbname";'); then
		if [[ $out == *"already exists"* ]]; then
			return 0 # created concurrently by another run
		fi
		printf '%s\n' "$out" >&2
		_rn_err "could not create database \"$db\""
		return 1
	fi
	_rn_log "postgres: created database \"$db\""
	return 0
}

# _rn_provision_postgres DB TIMEOUT: choose the PostgreSQL server and export
# DATABASE_URL.
_rn_provision_postgres() {
	local db=$1 timeout=$2 local_url port
	_RN_PG_DOCKER=no
	local_url="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
	if [[ -n ${DATABASE_URL:-} ]]; then
		_rn_parse_url "$DATABASE_URL" || return 1
		if ! _rn_wait "$timeout" _rn_pg_ready "$DATABASE_URL"; then
			_rn_err "DATABASE_URL=$(_rn_redact "$DATABASE_URL") is not reachable after ${timeout}s; start that server, fix the URL, or unset DATABASE_URL to let this script provide one"
			return 1
		fi
		_RN_PG_HOW="DATABASE_URL from the environment"
	elif _rn_pg_ready "$local_url"; then
		DATABASE_URL=$local_url
		_RN_PG_HOW="server already running on 127.0.0.1:5432"
	elif _rn_docker_works; then
		port=${ROAMNODE_PG_HOST_PORT:-5432}
		_rn_compose_up postgres || return 1
		DATABASE_URL="postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
		_RN_PG_DOCKER=yes
		if ! _rn_wait "$timeout" _rn_pg_ready "$DATABASE_URL"; then
			_rn_err "compose service postgres did not become ready on 127.0.0.1:$port within ${timeout}s (docker compose logs postgres)"
			return 1
		fi
		_RN_PG_HOW="docker compose service postgres"
	else
		_rn_pg_local "$db" "$timeout" || return 1
	fi
	export DATABASE_URL
	_rn_pg_ensure_db || return 1
	_rn_log "postgres: $_RN_PG_HOW -> $(_rn_redact "$DATABASE_URL")"
	return 0
}

# --- Redis ---------------------------------------------------------------

# _rn_redis_local TIMEOUT: install (if missing) and start redis-server on
# 127.0.0.1:6379; sets _RN_REDIS_HOW.
_rn_redis_local() {
	local timeout=$1 url=redis://127.0.0.1:6379
	if ! command -v redis-server >/dev/null 2>&1; then
		_rn_apt_install redis-server redis-tools || return 1
		# The package may have started a server itself.
		if _rn_redis_ready "$url"; then
			_RN_REDIS_HOW="redis-server installed with apt-get"
			return 0
		fi
	fi
	_rn_sudo mkdir -p /var/lib/redis /var/log/redis || return 1
	if ! _rn_sudo redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
		--save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1; then
		# Redis before 7 does not know the optional "-::1" bind address.
		_rn_sudo redis-server --daemonize yes --bind 127.0.0.1 --port 6379 \
			--save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null || {
			_rn_err "could not start redis-server (see /var/log/redis/ci.log)"
			return 1
		}
	fi
	if ! _rn_wait "$timeout" _rn_redis_ready "$url"; then
		_rn_err "redis-server did not answer PING on 127.0.0.1:6379 within ${timeout}s (see /var/log/redis/ci.log)"
		return 1
	fi
	_RN_REDIS_HOW="local redis-server (started)"
	return 0
}

# _rn_provision_redis DBINDEX TIMEOUT: choose the Redis server and export
# REDIS_URL.
_rn_provision_redis() {
	local idx=$1 timeout=$2 port
	if [[ -n ${REDIS_URL:-} ]]; then
		if ! _rn_wait "$timeout" _rn_redis_ready "$REDIS_URL"; then
			_rn_err "REDIS_URL=$(_rn_redact "$REDIS_URL") does not answer PING after ${timeout}s (last answer: $(_rn_redis_ping "$REDIS_URL")); start that server, fix the URL, or unset REDIS_URL to let this script provide one"
			return 1
		fi
		_RN_REDIS_HOW="REDIS_URL from the environment"
	elif _rn_redis_ready redis://127.0.0.1:6379; then
		REDIS_URL="redis://127.0.0.1:6379/$idx"
		_RN_REDIS_HOW="server already running on 127.0.0.1:6379"
	elif _rn_docker_works; then
		port=${ROAMNODE_REDIS_HOST_PORT:-6379}
		_rn_compose_up redis || return 1
		REDIS_URL="redis://127.0.0.1:$port/$idx"
		if ! _rn_wait "$timeout" _rn_redis_ready "$REDIS_URL"; then
			_rn_err "compose service redis did not become ready on 127.0.0.1:$port within ${timeout}s (docker compose logs redis)"
			return 1
		fi
		_RN_REDIS_HOW="docker compose service redis"
	else
		_rn_redis_local "$timeout" || return 1
		REDIS_URL="redis://127.0.0.1:6379/$idx"
	fi
	export REDIS_URL
	_rn_log "redis: $_RN_REDIS_HOW -> $(_rn_redact "$REDIS_URL")"
	return 0
}

# --- Go ------------------------------------------------------------------

# _rn_ensure_go: go on PATH and the module cache filled.
_rn_ensure_go() {
	if ! command -v go >/dev/null 2>&1; then
		if [[ -x /usr/local/go/bin/go ]]; then
			PATH=/usr/local/go/bin:$PATH
			export PATH
		else
			local want
			want=$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$RN_ROOT/go.mod" 2>/dev/null)
			_rn_err "Go is not installed (no 'go' on PATH, nothing in /usr/local/go): install Go ${want:-} or newer from https://go.dev/dl/ and put it on PATH"
			return 1
		fi
	fi
	local out
	if ! out=$(cd "$RN_ROOT" && go mod download 2>&1); then
		printf '%s\n' "$out" >&2
		_rn_err "go mod download failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
		return 1
	fi
	return 0
}

# provision [DB [REDIS_DB]]: make PostgreSQL and Redis available and export
# DATABASE_URL and REDIS_URL. DB (default roamnode) and REDIS_DB (default 0)
# are used only when the URLs are not already set.
provision() {
	local db=${1:-roamnode} idx=${2:-0} timeout=${ROAMNODE_PROVISION_TIMEOUT:-60}
	_rn_ensure_go || return 1
	_rn_provision_postgres "$db" "$timeout" || return 1
	_rn_provision_redis "$idx" "$timeout" || return 1
	return 0
}

# Run on its own: provision, then print export lines for eval.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	provision "$@" || exit 1
	printf 'export DATABASE_URL=%q\n' "$DATABASE_URL"
	printf 'export REDIS_URL=%q\n' "$REDIS_URL"
fi
