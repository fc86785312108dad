#!/usr/bin/env bats
# The Redis streams bridge of q-bridges(7), against a real redis-server
# (Debian package redis-server) on a free port of 127.0.0.1, appending
# every write to its AOF and syncing it before it replies: q work -b
# publishing through tests/bridge/redis-publish, and
# tests/bridge/redis-consume feeding q put -l -K, both on redis-cli
# (Debian package redis-tools).  Message IDs are the dedup keys on both
# sides: q's ID in the publishing script's seen keys outbound, the stream
# entry's ID as q put -K's key inbound.

load helper
load process
load bridge

eval "helper_$(declare -f setup)"
eval "process_$(declare -f teardown)"

BROKER=redis

setup() {
	helper_setup
	command -v redis-server >/dev/null ||
		skip "needs redis-server (Debian package redis-server)"
	command -v redis-cli >/dev/null ||
		skip "needs redis-cli (Debian package redis-tools)"
	command -v python3 >/dev/null || skip "needs python3 to find a free port"
	REDIS_DIR=$BATS_TEST_TMPDIR/redis
	mkdir -p "$REDIS_DIR"
	port=
	LOG=$BATS_TEST_TMPDIR/work.log
}

# Does redis-server $1 answer PING, or has it given up (exited)?  While it
# loads its AOF it answers with an error.
answering() {
	! alive "$1" ||
		[ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ]
}

# Start redis-server with its data under $REDIS_DIR, the AOF synced on
# every write and no snapshots, on $port, or at first on a port found free
# (another process may take it between the look and the start: then try
# another).  Its PID in $rpid; REDIS_PORT set.
start_redis() {
	local try fixed=$port
	for ((try = 0; try < 5; try++)); do
		[ -n "$fixed" ] || port=$(freeport)
		redis-server --port "$port" --bind 127.0.0.1 --dir "$REDIS_DIR" \
			--appendonly yes --appendfsync always --save '' \
			--daemonize no </dev/null >>"$REDIS_DIR/log" 2>&1 &
		rpid=$!
		track "$rpid"
		waitfor answering "$rpid" && alive "$rpid" && break
		kill "$rpid" 2>/dev/null || true
		rpid=
	done
	[ -n "$rpid" ] || fail "redis-server did not start: $(cat "$REDIS_DIR/log")"
	export REDIS_PORT=$port
}

# Stop the broker (SIGTERM: it writes its AOF and exits), then whatever
# else is left.
teardown() {
	if [ -n "${rpid:-}" ] && alive "$rpid"; then
		kill -TERM "$rpid" 2>/dev/null || true
		waitfor gone "$rpid" 2>/dev/null || true
	fi
	process_teardown
}

# The entries of stream $1 as QID<TAB>BODY lines (the newline that ends a
# body left out).
dump_stream() {
	redis-cli -p "$port" EVAL 'local out = {}
for _, e in ipairs(redis.call("XRANGE", KEYS[1], "-", "+")) do
	out[#out + 1] = e[2][2] .. "\t" .. string.gsub(e[2][4], "\n$", "")
end
return table.concat(out, "\n")' 1 "$1"
}

# Read the far end, the stream outbox, and check that it holds each of the
# $1 messages of outbox exactly once, keyed by its q ID.
check_far_end() {
	local far=$BATS_TEST_TMPDIR/far
	dump_stream outbox >"$far" || fail "reading the far end failed"
	assert_equal "$(redis-cli -p "$port" XLEN outbox)" "$1"
	assert_equal "$(wc -l <"$far")" "$1"
	assert_equal "$(cut -f1 "$far" | sort -u | wc -l)" "$1"
	# the bodies, each once
	assert_equal "$(cut -f2- "$far" | sort | sha256sum)" \
		"$(seq "$1" | sed 's/^/msg /' | sort | sha256sum)"
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

# Add $1 entries to the stream inbox, field body "in N" followed by
# ${2:-0} x's, pipelined (Redis syncs its AOF once per round of commands
# read, not once per command).
publish_inbound() {
	local pad
	pad=$(printf "%${2:-0}s" "" | tr ' ' x)
	seq -f "XADD inbox * body \"in %g${pad:+ $pad}\"" "$1" |
		redis-cli -p "$port" --pipe >/dev/null ||
		fail "publishing $1 messages to inbox failed"
	assert_equal "$(redis-cli -p "$port" XLEN inbox)" "$1"
}

# The bodies of the messages in inbox/new, sorted.
inbox_bodies() {
	find "$(qpath inbox)/new" -type f -exec cat {} + | sort
}

@test "outbound: q work -b 100 publishes 500 messages through redis-publish, each once at the far end" {
	start_redis
	fill_outbox 500
	start_bridge 100
	reach outbox done 500
	stop_bridge
	check_outbox 500
	check_far_end 500
	assert_equal "$(grep -c 'exit 75' "$LOG" || true)" 0
	# each message's q ID recorded as seen
	assert_equal "$(redis-cli -p "$port" --scan --pattern 'outbox:seen:*' |
		wc -l)" 500
}

@test "outbound: a batch published twice adds each message once" {
	start_redis
	fill_outbox 3
	q config outbox backoff 0s
	# a batch published, then not acknowledged (as when the bridge dies
	# between the two): it stays in outbox
	run -0 q work -n 3 -b 10 outbox -- \
		bash -c '"$0" "$@" && exit 1' "$BRIDGE/redis-publish"
	assert_equal "$(count outbox new)" 3
	assert_equal "$(redis-cli -p "$port" XLEN outbox)" 3
	run -0 q work -b 10 outbox -- "$BRIDGE/redis-publish"
	check_outbox 3
	check_far_end 3
}

@test "outbound: redis-publish exits 75 when the broker is down or refuses" {
	start_redis
	fill_outbox 2
	q config outbox backoff 0s
	kill "$rpid"
	wait "$rpid" || true
	run -0 q work -n 2 -b 10 outbox -- "$BRIDGE/redis-publish"
	assert_output --partial 'exit 75, released'
	assert_equal "$(count outbox new)" 2
	start_redis
	# outbox is a string: XADD fails, the script stops with an error
	redis-cli -p "$port" SET outbox x
	run -0 q work -n 2 -b 10 outbox -- "$BRIDGE/redis-publish"
	assert_output --partial 'exit 75, released'
	assert_equal "$(count outbox new)" 2
	assert_equal "$(count outbox done)" 0
	# and recorded no message as seen
	assert_equal "$(redis-cli -p "$port" --scan --pattern 'outbox:seen:*')" ""
	redis-cli -p "$port" DEL outbox
	run -0 q work -b 10 outbox -- "$BRIDGE/redis-publish"
	check_outbox 2
	check_far_end 2
}

@test "inbound: redis-consume | q put -l -K enqueues 500 messages once; fed again, nothing more" {
	start_redis
	publish_inbound 500
	"$BRIDGE/redis-consume" -e | q put -l -K inbox >"$BATS_TEST_TMPDIR/ids1"
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(count inbox new)" 500
	assert_equal "$(inbox_bodies)" "$(seq -f 'in %g' 500 | sort)"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/ids1")" 500
	# the same messages again, from the start of the stream: no new one,
	# and the IDs of the first time printed
	run --separate-stderr bash -c '"$1/redis-consume" -e | q put -l -K inbox' \
		_ "$BRIDGE"
	assert_success
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/ids1")"
	assert_equal "$(count inbox new)" 500
	assert_equal "$(inbox_bodies)" "$(seq -f 'in %g' 500 | sort)"
	# and the stream's entry IDs are the queue's dedup keys
	key=$(redis-cli -p "$port" XRANGE inbox - + COUNT 1 | head -n 1)
	first=$(head -n 1 "$BATS_TEST_TMPDIR/ids1")
	run --separate-stderr -0 q put -k "$key" -m other inbox
	assert_output "$first"
}

@test "fault, broker: kill -9 redis-server amid 5000 outbound messages, restart it; each arrives once" {
	start_redis
	fill_outbox 5000
	start_bridge 100
	reach outbox done 500
	kill -KILL "$rpid"
	wait "$rpid" || true
	[ "$(count outbox done)" -lt 5000 ] ||
		fail "the bridge was done before the broker was killed"
	# batches fail while the broker is down, and are released, not lost
	waitfor grep -q 'exit 75, released' "$LOG"
	start_redis
	reach outbox done 5000 90
	stop_bridge
	check_outbox 5000
	check_far_end 5000
}

@test "fault, bridge: kill -9 q work amid 5000 outbound messages, sweep, start again; each arrives once" {
	start_redis
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

# The inbound pipeline, each end its own process: redis-consume (following
# the stream) in $cpid writing to a FIFO that q put -l -K reads in $ppid.
start_inbound() {
	local fifo=$BATS_TEST_TMPDIR/fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	"$BRIDGE/redis-consume" >"$fifo" 2>>"$BATS_TEST_TMPDIR/consume.log" &
	cpid=$!
	track "$cpid"
	q put -l -K inbox <"$fifo" >/dev/null 2>>"$BATS_TEST_TMPDIR/put.log" &
	ppid=$!
	track "$ppid"
}

@test "inbound fault: kill -9 redis-consume mid-stream, start again: each of 5000 messages once" {
	start_redis
	# bodies of 100 bytes so that the stream does not fit in the pipe
	publish_inbound 5000 90
	start_inbound
	reach inbox new 500
	kill -KILL "$cpid"
	wait "$cpid" || true
	# q put commits what it read and ends at the end of its input
	wait "$ppid"
	[ "$(count inbox new)" -lt 5000 ] ||
		fail "the pipeline was done before it was killed"
	"$BRIDGE/redis-consume" -e | q put -l -K inbox >/dev/null
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(count inbox new)" 5000
	assert_equal "$(inbox_bodies | sed 's/ x*$//')" "$(seq -f 'in %g' 5000 | sort)"
}

@test "inbound fault: kill -9 q put mid-stream, sweep, start again: each of 5000 messages at least once, at most one group twice" {
	start_redis
	publish_inbound 5000 90
	start_inbound
	reach inbox new 500
	kill -KILL "$ppid"
	wait "$ppid" || true
	# and the consumer stopped, dying on the pipe nobody reads, or by
	# SIGTERM if it had written all and waits for more
	kill -TERM "$cpid" 2>/dev/null || true
	wait "$cpid" || true
	q sweep inbox
	"$BRIDGE/redis-consume" -e | q put -l -K inbox >/dev/null
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(inbox_bodies | sed 's/ x*$//' | uniq)" \
		"$(seq -f 'in %g' 5000 | sort)"
	# a message committed while its key was not yet recorded is enqueued
	# again (q(1) put -K): at most the 256 records of a group
	n=$(count inbox new)
	[ "$n" -ge 5000 ] && [ "$n" -le $((5000 + 256)) ] ||
		fail "$n messages in inbox"
	assert_equal "$(count inbox tmp)" 0
}
