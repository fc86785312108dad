#!/usr/bin/env bats
# The PostgreSQL bridge of q-bridges(7), against a real PostgreSQL server
# (Debian package postgresql) on a free port of 127.0.0.1, durable (fsync,
# synchronous commit), its data directory made here: q work -b inserting
# into a table through tests/bridge/pg-publish, and tests/bridge/pg-consume
# reading a table into q put -l -K, both through psql (Debian package
# postgresql-client).  Message IDs are the dedup keys on both sides: q's ID
# as the table's primary key outbound, TABLE:ID of a row as -K's key
# inbound.  PostgreSQL refuses to run as root: as root it runs as the
# system user postgres, from a directory under /tmp that user can enter.

load helper
load process
load bridge

eval "helper_$(declare -f setup)"
eval "process_$(declare -f teardown)"

BROKER=pg

# The directory of the newest PostgreSQL server programs, in $PGBIN.
find_pgbin() {
	local d
	PGBIN=
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/postgres" ] && [ -x "$d/initdb" ] && PGBIN=$d
	done
	[ -n "$PGBIN" ] || PGBIN=$(dirname "$(command -v postgres 2>/dev/null)")
	[ -x "$PGBIN/postgres" ] && [ -x "$PGBIN/initdb" ]
}

# The command prefix that runs PostgreSQL's programs, in AS_PG: as root,
# setpriv to the user postgres; else nothing (ourselves).
as_pg() {
	AS_PG=()
	[ "$(id -u)" -eq 0 ] || return 0
	id postgres >/dev/null 2>&1 && command -v setpriv >/dev/null || return 1
	AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
}

# A directory under /tmp for PostgreSQL's files, owned by the user it runs
# as, printed.
pg_dir() {
	local d
	d=$(mktemp -d /tmp/qpg.XXXXXX) || return 1
	[ "$(id -u)" -ne 0 ] || chown postgres: "$d"
	printf '%s\n' "$d"
}

# One initdb for the file, copied by each test: a cluster with trust
# authentication for the superuser postgres.
setup_file() {
	find_pgbin && as_pg || return 0
	PGT=$(pg_dir) || return 0
	printf '%s\n' "$PGT" >"$BATS_FILE_TMPDIR/template"
	"${AS_PG[@]}" "$PGBIN/initdb" -D "$PGT/data" --auth=trust -U postgres \
		-E UTF8 --locale=C --no-sync \
		>"$BATS_FILE_TMPDIR/initdb.log" 2>&1 || true
}

teardown_file() {
	[ ! -s "$BATS_FILE_TMPDIR/template" ] ||
		rm -rf "$(cat "$BATS_FILE_TMPDIR/template")"
}

setup() {
	helper_setup
	PGD= pgpid=
	find_pgbin || skip "needs PostgreSQL (Debian package postgresql)"
	command -v psql >/dev/null ||
		skip "needs psql (Debian package postgresql-client)"
	as_pg || skip "PostgreSQL does not run as root: needs the user postgres and setpriv"
	command -v python3 >/dev/null || skip "needs python3 to find a free port"
	[ -s "$BATS_FILE_TMPDIR/template" ] &&
		[ -f "$(cat "$BATS_FILE_TMPDIR/template")/data/PG_VERSION" ] ||
		fail "initdb failed: $(cat "$BATS_FILE_TMPDIR/initdb.log" 2>/dev/null)"
	PGD=$(pg_dir)
	cp -a "$(cat "$BATS_FILE_TMPDIR/template")/data" "$PGD/data"
	unset PGPORT PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE
	export PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=postgres
	PGLOG=$BATS_TEST_TMPDIR/postgres.log
	LOG=$BATS_TEST_TMPDIR/work.log
}

teardown() {
	crash_pg
	process_teardown
	[ -z "$PGD" ] || rm -rf "$PGD"
}

# The PIDs of the children of process $1.
children() {
	local s st
	for s in /proc/[0-9]*/stat; do
		{ read -r st <"$s"; } 2>/dev/null || continue
		st=${st##*) }
		st=${st#* }
		[ "${st%% *}" != "$1" ] || { s=${s#/proc/}; echo "${s%/stat}"; }
	done
}

# Kill PostgreSQL as a crash does: SIGKILL to the postmaster and to every
# process it started (each a session of its own), all stopped first so
# that none starts another; then wait until they are gone.
crash_pg() {
	local pids p
	[ -n "$pgpid" ] || return 0
	if kill -STOP "$pgpid" 2>/dev/null; then
		pids=$(children "$pgpid")
		# shellcheck disable=SC2086
		kill -KILL "$pgpid" $pids 2>/dev/null || true
		for p in $pids; do
			waitfor gone "$p" || true
		done
	fi
	wait "$pgpid" 2>/dev/null || true
	pgpid=
}

# Does the server $1 answer a query, or has it given up (exited)?
answering() {
	! alive "$1" || psql -X -q -c 'SELECT 1' >/dev/null 2>&1
}

# Start postgres, durable, on $PGPORT, or at first on a port found free
# (another process may take it between the look and the start: then try
# another); its data in $PGD/data, its socket in $PGD.  PID in $pgpid.
start_pg() {
	local try i fixed=${PGPORT:-}
	for ((try = 0; try < 5; try++)); do
		[ -n "$fixed" ] || PGPORT=$(freeport)
		export PGPORT
		"${AS_PG[@]}" "$PGBIN/postgres" -D "$PGD/data" \
			-c listen_addresses=127.0.0.1 -p "$PGPORT" \
			-c unix_socket_directories="$PGD" \
			-c fsync=on -c synchronous_commit=on \
			</dev/null >>"$PGLOG" 2>&1 &
		pgpid=$!
		track "$pgpid"
		# crash recovery may take a while on a loaded machine
		for ((i = 0; i < 600; i++)); do
			answering "$pgpid" && break
			sleep 0.05
		done
		alive "$pgpid" && answering "$pgpid" && break
		crash_pg
	done
	[ -n "$pgpid" ] || fail "postgres did not start: $(cat "$PGLOG")"
}

# psql with the options of the scripts: stop at the first error, print
# rows unaligned, fields separated by a tab.
sql() {
	psql -X -q -A -t -F "$(printf '\t')" -v ON_ERROR_STOP=1 "$@"
}

# Read the far end, the table outbox, and check that it holds each of the
# $1 messages of outbox exactly once, keyed by its q ID, newline and all.
check_far_end() {
	local far=$BATS_TEST_TMPDIR/far
	sql -c "SELECT qid, replace(convert_from(body, 'UTF8'), chr(10), '|')
		FROM outbox" >"$far" || fail "reading the far end failed"
	assert_equal "$(wc -l <"$far")" "$1"
	assert_equal "$(cut -f1 "$far" | sort -u | wc -l)" "$1"
	# the bodies, each once
	assert_equal "$(cut -f2- "$far" | sort | sha256sum)" \
		"$(seq "$1" | sed 's/.*/msg &|/' | sort | sha256sum)"
	# and keyed by the IDs of the messages done in outbox
	assert_equal "$(cut -f1 "$far" | sort)" \
		"$(names outbox done | sed 's/,.*//' | sort)"
}

# Every message of outbox done, none claimed, waiting or failed.
check_outbox() {
	assert_equal "$(count outbox done)" "$1"
	assert_equal "$(count outbox cur)" 0
	assert_equal "$(count outbox new)" 0
	assert_equal "$(count outbox failed)" 0
}

# Insert $1 rows "in N" followed by ${2:-0} x's into the table events.
fill_events() {
	sql -v n="$1" -v pad="$(printf "%${2:-0}s" "" | tr ' ' x)" <<'EOF' ||
CREATE TABLE IF NOT EXISTS events (id bigserial PRIMARY KEY,
	body text NOT NULL);
INSERT INTO events (body)
	SELECT rtrim('in ' || g || ' ' || :'pad') FROM generate_series(1, :n) g;
EOF
		fail "inserting $1 rows into events failed"
}

# The bodies of the messages in inbox/new, sorted.
inbox_bodies() {
	find "$(qpath inbox)/new" -type f -exec cat {} + | sort
}

# What fill_events $1 $2 inserted, as inbox_bodies prints it.
events_bodies() {
	local pad
	pad=$(printf "%${2:-0}s" "" | tr ' ' x)
	seq -f "in %g${pad:+ $pad}" "$1" | sort
}

@test "outbound: q work -b 100 inserts 500 messages through pg-publish, each once at the far end; any bytes; server down, exit 75" {
	start_pg
	fill_outbox 500
	start_bridge 100
	reach outbox done 500
	stop_bridge
	check_outbox 500
	check_far_end 500
	assert_equal "$(grep -c 'exit 75' "$LOG" || true)" 0
	# a batch published again adds nothing, and succeeds
	ids=$(names outbox done | sed 's/,.*//' | head -n 3)
	for id in $ids; do
		printf 'again\n' >"$BATS_TEST_TMPDIR/$id"
	done
	(cd "$BATS_TEST_TMPDIR" && Q_IDS=$(echo $ids) "$BRIDGE/pg-publish" $ids)
	check_far_end 500
	# bodies of any bytes, into a table of their own, stored as they are
	export PG_TABLE=raw
	printf "it's \\\\ a 'quote' \$x;\n" | q put raw >/dev/null
	printf 'a\0nul\tand\001binary\377' | q put raw >/dev/null
	printf '' | q put raw >/dev/null
	run -0 q work -b 10 raw -- "$BRIDGE/pg-publish"
	assert_equal "$(count raw done)" 3
	for f in "$(qpath raw)"/done/*; do
		id=$(basename "$f")
		run -0 sql -v id="${id%%,*}" \
			<<<"SELECT encode(body, 'hex') FROM raw WHERE qid = :'id'"
		assert_output "$(od -An -tx1 -v "$f" | tr -d ' \n')"
	done
	# the server down: the batch is released for a retry
	crash_pg
	q put -m late raw >/dev/null
	run q work -b 10 raw -- "$BRIDGE/pg-publish"
	assert_equal "$(count raw new)" 1
	assert_equal "$(count raw cur)" 0
	assert_equal "$(count raw failed)" 0
}

@test "inbound: pg-consume | q put -l -K enqueues 500 rows once; fed again, nothing more; newlines need -0" {
	start_pg
	fill_events 500
	"$BRIDGE/pg-consume" | q put -l -K inbox >"$BATS_TEST_TMPDIR/ids1"
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(count inbox new)" 500
	assert_equal "$(inbox_bodies)" "$(events_bodies 500)"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/ids1")" 500
	# the same rows again, from the start of the table: no new message,
	# and the IDs of the first time printed
	run --separate-stderr bash -c '"$1/pg-consume" | q put -l -K inbox' \
		_ "$BRIDGE"
	assert_success
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/ids1")"
	assert_equal "$(count inbox new)" 500
	assert_equal "$(inbox_bodies)" "$(events_bodies 500)"
	# from after row 250: the rows from 251 on
	run --separate-stderr bash -c \
		'"$1/pg-consume" -a 250 | q put -l -K inbox' _ "$BRIDGE"
	assert_success
	assert_equal "$output" "$(tail -n 250 "$BATS_TEST_TMPDIR/ids1")"
	# and the table's row IDs are the queue's dedup keys
	first=$(head -n 1 "$BATS_TEST_TMPDIR/ids1")
	run --separate-stderr -0 q put -k events:1 -m other inbox
	assert_output "$first"
	# a body with a newline stops pg-consume before it prints the rows
	# it fetched with it; with -0, it comes whole
	sql <<'EOF'
CREATE TABLE lines (id bigserial PRIMARY KEY, body text NOT NULL);
INSERT INTO lines (body) VALUES ('one'), ('two' || chr(10) || 'lines');
EOF
	export PG_TABLE=lines
	run --separate-stderr bash -c \
		'"$1/pg-consume" | q put -l -K lines; echo "${PIPESTATUS[*]}"' \
		_ "$BRIDGE"
	assert_output --regexp '^[1-9][0-9]* 0$'
	assert_equal "$(count lines new)" 0
	"$BRIDGE/pg-consume" -0 | q put -0 -K lines >/dev/null
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(count lines new)" 2
	assert_equal "$(find "$(qpath lines)/new" -type f \
		-exec sh -c 'for f; do cat "$f"; echo "|"; done' _ {} + | sort)" \
		"$(printf 'one|\ntwo\nlines|\n' | sort)"
}

@test "fault, broker: kill -9 postgres amid 5000 outbound messages, restart it; each arrives once" {
	start_pg
	fill_outbox 5000
	start_bridge 100
	reach outbox done 500
	crash_pg
	[ "$(count outbox done)" -lt 5000 ] ||
		fail "the bridge was done before the server was killed"
	# batches fail while the server is down, and are released, not lost
	waitfor grep -q 'exit 75, released' "$LOG"
	start_pg
	reach outbox done 5000 90
	stop_bridge
	check_outbox 5000
	check_far_end 5000
	grep -q 'database system was not properly shut down' "$PGLOG"
}

@test "fault, bridge: kill -9 q work amid 5000 outbound messages, sweep, start again; each arrives once" {
	start_pg
	fill_outbox 5000
	start_bridge 100
	reach outbox done 500
	kill -KILL "$wpid"
	wait "$wpid" || true
	[ "$(count outbox done)" -lt 5000 ] ||
		fail "the bridge was done before it was killed"
	q sweep outbox
	start_bridge 100
	reach outbox done 5000 90
	stop_bridge
	check_outbox 5000
	check_far_end 5000
}

# The inbound pipeline, each end its own process: pg-consume, leading a
# process group, in $cpid writing to a FIFO that q put -l -K reads in $ppid.
start_inbound() {
	local fifo=$BATS_TEST_TMPDIR/fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	setsid "$BRIDGE/pg-consume" >"$fifo" \
		2>>"$BATS_TEST_TMPDIR/consume.log" &
	cpid=$!
	track "$cpid"
	q put -l -K inbox <"$fifo" >/dev/null 2>>"$BATS_TEST_TMPDIR/put.log" &
	ppid=$!
	track "$ppid"
}

@test "inbound fault: kill -9 pg-consume mid-stream, start again: each of 5000 rows once, whole" {
	start_pg
	# bodies of 200 bytes so that the table does not fit in the pipes
	fill_events 5000 190
	start_inbound
	reach inbox new 1000
	alive "$cpid" || fail "the consumer was done before it was killed"
	# the script, psql and sed at once
	kill -KILL -- "-$cpid"
	wait "$cpid" || true
	# q put commits what it read, whole records only, and ends at the end
	# of its input
	wait "$ppid"
	[ "$(count inbox new)" -lt 5000 ] ||
		fail "the pipeline was done before it was killed"
	"$BRIDGE/pg-consume" | q put -l -K inbox >/dev/null
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(count inbox new)" 5000
	assert_equal "$(inbox_bodies)" "$(events_bodies 5000 190)"
}

@test "inbound fault: kill -9 q put mid-stream, sweep, start again: each of 5000 rows at least once, at most one group twice" {
	start_pg
	fill_events 5000 190
	start_inbound
	reach inbox new 1000
	kill -KILL "$ppid"
	wait "$ppid" || true
	# pg-consume dies writing to the pipe nobody reads
	waitfor gone "$cpid"
	q sweep inbox
	"$BRIDGE/pg-consume" | q put -l -K inbox >/dev/null
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(inbox_bodies | uniq)" "$(events_bodies 5000 190)"
	# a message committed while its key was not yet recorded is enqueued
	# again (q(1) put -K): at most the 256 records of a group
	n=$(count inbox new)
	[ "$n" -ge 5000 ] && [ "$n" -le $((5000 + 256)) ] ||
		fail "$n messages in inbox"
	assert_equal "$(count inbox tmp)" 0
}
