#!/usr/bin/env bats
# The NATS JetStream bridge of q(1) EXAMPLES, against a real nats-server
# (Debian package nats-server) on a free port of 127.0.0.1: q work -b
# publishing through tests/bridge/nats-publish, and tests/bridge/nats-consume
# feeding q put -l -K, both running tests/bridge/nats-client.c (built here
# on libnats-dev).  Message IDs are the dedup keys on both sides: q's ID as
# Nats-Msg-Id outbound, the broker's key as q put -K's key inbound.

load helper
load process
load bridge

eval "helper_$(declare -f setup)"

BROKER=nats

setup_file() {
	command -v cc >/dev/null || return 0
	if ! printf '#include <nats/nats.h>\n' |
		cc -E -x c - >/dev/null 2>&1; then
		touch "$BATS_FILE_TMPDIR/no-header"
		return 0
	fi
	cc -Wall -Wextra -Wpedantic -Werror -O2 \
		-o "$BATS_FILE_TMPDIR/nats-client" \
		"$BATS_TEST_DIRNAME/bridge/nats-client.c" -lnats \
		>"$BATS_FILE_TMPDIR/cc.log" 2>&1 || true
}

setup() {
	helper_setup
	command -v nats-server >/dev/null ||
		skip "needs nats-server (Debian package nats-server)"
	command -v cc >/dev/null || skip "needs cc to build the NATS client"
	[ ! -e "$BATS_FILE_TMPDIR/no-header" ] ||
		skip "needs <nats/nats.h> (Debian package libnats-dev)"
	command -v python3 >/dev/null || skip "needs python3 to find a free port"
	[ -x "$BATS_FILE_TMPDIR/nats-client" ] ||
		fail "nats-client.c does not build: $(cat "$BATS_FILE_TMPDIR/cc.log")"
	export NATS_CLIENT=$BATS_FILE_TMPDIR/nats-client
	NATS_DIR=$BATS_TEST_TMPDIR/nats
	mkdir -p "$NATS_DIR"
	port=
	LOG=$BATS_TEST_TMPDIR/work.log
}

# Does nats-server $1 accept connections, or has it given up (exited)?
accepting() {
	! alive "$1" || (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# Start nats-server with JetStream storing under $NATS_DIR, on $port, or
# at first on a port found free (another process may take it between the
# look and the start: then try another).  Its PID in $npid; NATS_URL set.
start_nats() {
	local try fixed=$port
	for ((try = 0; try < 5; try++)); do
		[ -n "$fixed" ] || port=$(freeport)
		nats-server -js -a 127.0.0.1 -p "$port" -sd "$NATS_DIR/store" \
			</dev/null >>"$NATS_DIR/log" 2>&1 &
		npid=$!
		track "$npid"
		waitfor accepting "$npid" && alive "$npid" && break
		kill "$npid" 2>/dev/null || true
		npid=
	done
	[ -n "$npid" ] || fail "nats-server did not start: $(cat "$NATS_DIR/log")"
	export NATS_URL=nats://127.0.0.1:$port
}

# Read the far end, the stream OUTBOX, and check that it holds each of the
# $1 messages of outbox exactly once, keyed by its q ID.
check_far_end() {
	local far=$BATS_TEST_TMPDIR/far
	NATS_STREAM=OUTBOX NATS_SUBJECT=outbox timeout 60 \
		"$BRIDGE/nats-consume" -e >"$far" ||
		fail "reading the far end failed"
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

# Publish $1 messages "in N" followed by ${2:-0} x's to the stream INBOX,
# with the keys in ${3:-} (none: the key at the far end is the sequence).
publish_inbound() {
	local d=$BATS_TEST_TMPDIR/in pad i
	mkdir -p "$d"
	pad=$(printf "%${2:-0}s" "" | tr ' ' x)
	for ((i = 1; i <= $1; i++)); do
		printf 'in %d%s\n' "$i" "${pad:+ $pad}" >"$d/$i"
	done
	Q_IDS=${3:-} "$NATS_CLIENT" pub "$NATS_URL" INBOX inbox \
		$(seq -f "$d/%g" "$1") ||
		fail "publishing $1 messages to INBOX failed"
}

# The bodies of the messages in inbox/new, sorted.
inbox_bodies() {
	find "$(qpath inbox)/new" -type f -exec cat {} + | sort
}

@test "outbound: q work -b 100 publishes 500 messages through nats-publish, each once at the far end" {
	start_nats
	fill_outbox 500
	export NATS_STREAM=OUTBOX NATS_SUBJECT=outbox
	start_bridge 100
	reach outbox done 500
	stop_bridge
	check_outbox 500
	check_far_end 500
	# the stream deduplicates, on disk
	assert_equal "$(grep -c 'exit 75' "$LOG" || true)" 0
}

@test "inbound: nats-consume | q put -l -K enqueues 500 messages once; fed again, nothing more" {
	start_nats
	publish_inbound 500 0 "$(seq -f 'broker-%g' 500 | paste -sd ' ')"
	"$BRIDGE/nats-consume" -e | q put -l -K inbox >"$BATS_TEST_TMPDIR/ids1"
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(count inbox new)" 500
	assert_equal "$(inbox_bodies)" "$(seq -f 'in %g' 500 | sort)"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/ids1")" 500
	# the same messages again, from the start of the stream: no new one,
	# and the IDs of the first time printed
	run --separate-stderr bash -c '"$1/nats-consume" -e | q put -l -K inbox' \
		_ "$BRIDGE"
	assert_success
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/ids1")"
	assert_equal "$(count inbox new)" 500
	assert_equal "$(inbox_bodies)" "$(seq -f 'in %g' 500 | sort)"
	# and the broker's keys are the queue's dedup keys
	first=$(head -n 1 "$BATS_TEST_TMPDIR/ids1")
	run --separate-stderr -0 q put -k broker-1 -m other inbox
	assert_output "$first"
}

@test "fault, broker: kill -9 nats-server amid 5000 outbound messages, restart it; each arrives once" {
	start_nats
	fill_outbox 5000
	export NATS_STREAM=OUTBOX NATS_SUBJECT=outbox
	start_bridge 100
	reach outbox done 500
	kill -KILL "$npid"
	wait "$npid" || true
	[ "$(count outbox done)" -lt 5000 ] ||
		fail "the bridge was done before the broker was killed"
	# batches fail while the broker is down, and are released, not lost
	waitfor grep -q 'exit 75, released' "$LOG"
	start_nats
	reach outbox done 5000 90
	stop_bridge
	check_outbox 5000
	check_far_end 5000
}

@test "fault, bridge: kill -9 q work amid 5000 outbound messages, sweep, start again; each arrives once" {
	start_nats
	fill_outbox 5000
	export NATS_STREAM=OUTBOX NATS_SUBJECT=outbox
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

# The inbound pipeline, each end its own process: nats-consume (following
# the stream) in $cpid writing to a FIFO that q put -l -K reads in $ppid.
start_inbound() {
	local fifo=$BATS_TEST_TMPDIR/fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	"$BRIDGE/nats-consume" >"$fifo" 2>>"$BATS_TEST_TMPDIR/consume.log" &
	cpid=$!
	track "$cpid"
	q put -l -K inbox <"$fifo" >/dev/null 2>>"$BATS_TEST_TMPDIR/put.log" &
	ppid=$!
	track "$ppid"
}

@test "inbound fault: kill -9 nats-consume mid-stream, start again: each of 5000 messages once" {
	start_nats
	# keys are the stream sequences; bodies of 100 bytes so that the
	# stream does not fit in the pipe
	publish_inbound 5000 90
	start_inbound
	reach inbox new 1000
	kill -KILL "$cpid"
	wait "$cpid" || true
	# q put commits what it read and ends at the end of its input
	wait "$ppid"
	[ "$(count inbox new)" -lt 5000 ] ||
		fail "the pipeline was done before it was killed"
	"$BRIDGE/nats-consume" -e | q put -l -K inbox >/dev/null
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(count inbox new)" 5000
	assert_equal "$(inbox_bodies | sed 's/ x*$//')" "$(seq -f 'in %g' 5000 | sort)"
}

@test "inbound fault: kill -9 q put mid-stream, sweep, start again: each of 5000 messages at least once, at most one group twice" {
	start_nats
	publish_inbound 5000 90
	start_inbound
	reach inbox new 1000
	kill -KILL "$ppid"
	wait "$ppid" || true
	# nats-consume dies writing to the pipe nobody reads
	waitfor gone "$cpid"
	q sweep inbox
	"$BRIDGE/nats-consume" -e | q put -l -K inbox >/dev/null
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
