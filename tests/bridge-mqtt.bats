#!/usr/bin/env bats
# The MQTT bridge of q-bridges(7), against a real mosquitto (Debian package
# mosquitto) on a free port of 127.0.0.1, persisting to its own directory:
# q work -b publishing through tests/bridge/mqtt-publish, and
# tests/bridge/mqtt-consume feeding q put -l -K, both on mosquitto_pub and
# mosquitto_sub (Debian package mosquitto-clients) at QoS 1.  MQTT has no
# message ID of its own and the broker does not deduplicate: each payload
# is KEY<TAB>BODY, the q ID outbound, and the key is q put -K's inbound.

load helper
load process
load bridge

eval "helper_$(declare -f setup)"
eval "process_$(declare -f teardown)"

BROKER=mqtt

setup() {
	helper_setup
	command -v mosquitto >/dev/null ||
		skip "needs mosquitto (Debian package mosquitto)"
	command -v mosquitto_pub >/dev/null ||
		skip "needs mosquitto_pub (Debian package mosquitto-clients)"
	command -v mosquitto_sub >/dev/null ||
		skip "needs mosquitto_sub (Debian package mosquitto-clients)"
	command -v python3 >/dev/null || skip "needs python3 to find a free port"
	MQTT_DIR=$BATS_TEST_TMPDIR/mqtt
	mkdir -p "$MQTT_DIR"
	# The broker syncs its whole database to disk after every change: on
	# a disk, that is some milliseconds a message.  The tests kill
	# processes, not the system, and for that the page cache of a tmpfs
	# keeps what was saved just as well.
	MQTT_DATA=$(mktemp -d /dev/shm/q-mqtt.XXXXXX 2>/dev/null) ||
		MQTT_DATA=$MQTT_DIR/data
	mkdir -p "$MQTT_DATA"
	port=
	LOG=$BATS_TEST_TMPDIR/work.log
	FAR=$BATS_TEST_TMPDIR/far
}

teardown() {
	process_teardown
	case ${MQTT_DATA:-} in
	/dev/shm/q-mqtt.*) rm -rf "$MQTT_DATA" ;;
	esac
}

# Does mosquitto $1 accept connections, or has it given up (exited)?
accepting() {
	! alive "$1" || (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# Start mosquitto persisting under $MQTT_DATA, saving after every
# change, queueing without limit for persistent sessions, on $port, or at
# first on a port found free (another process may take it between the look
# and the start: then try another).  Its PID in $mpid; MQTT_PORT set.
start_mqtt() {
	local try fixed=$port
	for ((try = 0; try < 5; try++)); do
		[ -n "$fixed" ] || port=$(freeport)
		cat >"$MQTT_DIR/conf" <<-EOF
			listener $port 127.0.0.1
			allow_anonymous true
			persistence true
			persistence_location $MQTT_DATA/
			autosave_on_changes true
			autosave_interval 1
			max_queued_messages 0
			max_inflight_messages 0
			user $(id -un)
			log_dest stderr
			log_type error
			log_type warning
		EOF
		mosquitto -c "$MQTT_DIR/conf" </dev/null >>"$MQTT_DIR/log" 2>&1 &
		mpid=$!
		track "$mpid"
		waitfor accepting "$mpid" && alive "$mpid" && break
		kill "$mpid" 2>/dev/null || true
		mpid=
	done
	[ -n "$mpid" ] || fail "mosquitto did not start: $(cat "$MQTT_DIR/log")"
	export MQTT_PORT=$port
}

stop_mqtt() {
	kill -TERM "$mpid"
	wait "$mpid" || true
}

# The far end: a persistent session (client ID far, QoS 1) on the topic
# outbox, opened before anything is published so that every message is
# kept for it.
open_far() {
	MQTT_ID=far MQTT_TOPIC=outbox "$BRIDGE/mqtt-consume" -E ||
		fail "opening the far end's session failed"
}

# The far end following the topic into $FAR; PID in $fpid.
follow_far() {
	MQTT_ID=far MQTT_TOPIC=outbox "$BRIDGE/mqtt-consume" \
		>>"$FAR" 2>>"$BATS_TEST_TMPDIR/far.log" &
	fpid=$!
	track "$fpid"
}

start_far() {
	open_far
	follow_far
}

# Stop mosquitto_sub $1 by SIGTERM (it disconnects, having written every
# message it acknowledged), or by SIGKILL if it is not connected and
# ignores it.
quit() {
	kill -TERM "$1"
	waitfor gone "$1" || kill -KILL "$1"
	wait "$1" || true
}

# Number of distinct q IDs at the far end.
far_ids() {
	cut -f1 "$FAR" | sort -u | wc -l
}

# Check that the far end holds each of the $1 messages of outbox, keyed by
# its q ID: exactly once with "once", at least once with "dups" (a batch
# published again after a failure comes again: the broker does not
# deduplicate).
check_far_end() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(far_ids)" -ge "$1" ] && break
		sleep 0.1
	done
	quit "$fpid"
	assert_equal "$(far_ids)" "$1"
	if [ "$2" = once ]; then
		assert_equal "$(wc -l <"$FAR")" "$1"
	fi
	# the bodies, each once per ID
	assert_equal "$(sort -u "$FAR" | cut -f2- | sort | sha256sum)" \
		"$(seq "$1" | sed 's/^/msg /' | sort | sha256sum)"
	# and keyed by the IDs of the messages done in outbox
	assert_equal "$(cut -f1 "$FAR" | sort -u)" \
		"$(names outbox done | sed 's/,.*//' | sort)"
}

# Every message of outbox done, none claimed, waiting or failed.
check_outbox() {
	assert_equal "$(count outbox done)" "$1"
	assert_equal "$(count outbox cur)" 0
	assert_equal "$(count outbox new)" 0
	assert_equal "$(count outbox failed)" 0
}

@test "outbound: q work -b 100 publishes 500 messages through mqtt-publish, each once at the far end" {
	start_mqtt
	start_far
	fill_outbox 500
	start_bridge 100
	reach outbox done 500
	stop_bridge
	check_outbox 500
	check_far_end 500 once
	assert_equal "$(grep -c 'exit 75' "$LOG" || true)" 0
}

@test "outbound: with the broker down, batches are released (exit 75); once it is up, each message arrives once" {
	start_mqtt
	open_far
	stop_mqtt
	fill_outbox 300
	start_bridge 100
	waitfor grep -q 'exit 75, released' "$LOG"
	assert_equal "$(count outbox done)" 0
	start_mqtt
	follow_far
	reach outbox done 300
	stop_bridge
	check_outbox 300
	check_far_end 300 once
}

@test "fault, broker: kill -9 mosquitto amid 5000 outbound messages, restart it; each arrives at least once" {
	start_mqtt
	start_far
	fill_outbox 5000
	start_bridge 500
	reach outbox done 500
	kill -KILL "$mpid"
	wait "$mpid" || true
	[ "$(count outbox done)" -lt 5000 ] ||
		fail "the bridge was done before the broker was killed"
	start_mqtt
	reach outbox done 5000 90
	stop_bridge
	check_outbox 5000
	check_far_end 5000 dups
}

@test "fault, bridge: kill -9 q work amid 5000 outbound messages, sweep, start again; each arrives at least once" {
	start_mqtt
	start_far
	fill_outbox 5000
	start_bridge 500
	reach outbox done 500
	kill -KILL "$wpid"
	wait "$wpid" || true
	[ "$(count outbox done)" -lt 5000 ] ||
		fail "the bridge was done before it was killed"
	q sweep outbox
	start_bridge 500
	reach outbox done 5000 90
	stop_bridge
	check_outbox 5000
	check_far_end 5000 dups
}

# Open the inbound session, then publish $1 messages "in N" followed by
# ${2:-0} x's to the topic inbox, keyed broker-N.
publish_inbound() {
	local pad
	MQTT_ID=q-inbox MQTT_TOPIC=inbox "$BRIDGE/mqtt-consume" -E ||
		fail "opening the inbound session failed"
	pad=$(printf "%${2:-0}s" "" | tr ' ' x)
	seq "$1" | awk -v pad="${pad:+ $pad}" \
		'{ printf "broker-%d%cin %d%s\n", $1, 9, $1, pad }' |
		mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t inbox -l ||
		fail "publishing $1 messages to inbox failed"
}

# The bodies of the messages in inbox/new, sorted.
inbox_bodies() {
	find "$(qpath inbox)/new" -type f -exec cat {} + | sort
}

@test "inbound: mqtt-consume | q put -l -K enqueues 500 messages once; published again, nothing more" {
	start_mqtt
	publish_inbound 500
	export MQTT_TOPIC=inbox MQTT_ID=q-inbox
	"$BRIDGE/mqtt-consume" -C 500 | q put -l -K inbox >"$BATS_TEST_TMPDIR/ids1"
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(count inbox new)" 500
	assert_equal "$(inbox_bodies)" "$(seq -f 'in %g' 500 | sort)"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/ids1")" 500
	# the same messages again, as a publisher that retries sends them: no
	# new one, and the IDs of the first time printed
	publish_inbound 500
	run --separate-stderr bash -c '"$1/mqtt-consume" -C 500 | q put -l -K inbox' \
		_ "$BRIDGE"
	assert_success
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/ids1")"
	assert_equal "$(count inbox new)" 500
	assert_equal "$(inbox_bodies)" "$(seq -f 'in %g' 500 | sort)"
	# and the publisher's keys are the queue's dedup keys
	first=$(head -n 1 "$BATS_TEST_TMPDIR/ids1")
	run --separate-stderr -0 q put -k broker-1 -m other inbox
	assert_output "$first"
}

# The inbound pipeline, each end its own process: mqtt-consume (following
# the topic) in $cpid writing to a FIFO that q put -l -K reads in $ppid.
start_inbound() {
	local fifo=$BATS_TEST_TMPDIR/fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	MQTT_ID=q-inbox MQTT_TOPIC=inbox "$BRIDGE/mqtt-consume" \
		>"$fifo" 2>>"$BATS_TEST_TMPDIR/consume.log" &
	cpid=$!
	track "$cpid"
	q put -l -K inbox <"$fifo" >/dev/null 2>>"$BATS_TEST_TMPDIR/put.log" &
	ppid=$!
	track "$ppid"
}

# Stop the inbound pipeline once inbox holds $1 messages: mqtt-consume by
# SIGTERM, and q put at the end of its input.
stop_inbound() {
	reach inbox new "$1" 90
	quit "$cpid"
	wait "$ppid"
}

@test "inbound fault, broker: kill -9 mosquitto mid-stream, restart it: each of 5000 messages once" {
	start_mqtt
	# bodies of 100 bytes, so that the messages do not fit in the pipe
	publish_inbound 5000 90
	start_inbound
	reach inbox new 1000
	kill -KILL "$mpid"
	wait "$mpid" || true
	[ "$(count inbox new)" -lt 5000 ] ||
		fail "the pipeline was done before the broker was killed"
	# mosquitto_sub reconnects to its session, which the broker reloads
	# from its last save: what it had not saved as delivered comes again
	start_mqtt
	stop_inbound 5000
	assert_equal "$(count inbox new)" 5000
	assert_equal "$(inbox_bodies | sed 's/ x*$//')" "$(seq -f 'in %g' 5000 | sort)"
}

# Wait until queue $1's state $2 has held at least $3 messages and the
# same number for 2 s (60 s at most).
settled() {
	local i n last=-1 same=0
	for ((i = 0; i < 600; i++)); do
		n=$(count "$1" "$2")
		if [ "$n" -ge "$3" ] && [ "$n" -eq "$last" ]; then
			same=$((same + 1))
			[ "$same" -lt 20 ] || return 0
		else
			same=0
		fi
		last=$n
		sleep 0.1
	done
	fail "$1/$2 did not settle at $3 or more: $n"
}

# mosquitto_sub drops a message that comes after its SIGTERM yet
# acknowledges it: those in flight (mosquitto's max_inflight_messages,
# 20) can be lost, never the others, and none comes twice.
@test "inbound fault: stop mqtt-consume (SIGTERM) mid-stream, start again: each of 5000 messages at most once, all but those in flight" {
	start_mqtt
	publish_inbound 5000 90
	start_inbound
	reach inbox new 1000
	kill -TERM "$cpid"
	waitfor gone "$cpid" || fail "mosquitto_sub did not stop on SIGTERM"
	wait "$cpid" || true
	# q put commits what it read and ends at the end of its input
	wait "$ppid"
	[ "$(count inbox new)" -lt 5000 ] ||
		fail "the pipeline was done before it was stopped"
	start_inbound
	settled inbox new 4980
	quit "$cpid"
	wait "$ppid"
	[ "$(count inbox new)" -le 5000 ]
	inbox_bodies | sed 's/ x*$//' >"$BATS_TEST_TMPDIR/got"
	assert_equal "$(sort -u "$BATS_TEST_TMPDIR/got" | wc -l)" \
		"$(count inbox new)"
	seq -f 'in %g' 5000 | sort | comm -13 - "$BATS_TEST_TMPDIR/got" \
		>"$BATS_TEST_TMPDIR/strange"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/strange")" 0
}
