# Shared by tests/bridge-*.bats, the bridges of q-bridges(7): an outbox
# fed and worked through the broker's PUBLISH script, $BRIDGE/$BROKER-publish
# (each file sets BROKER), and waits with a limit.

BRIDGE=$BATS_TEST_DIRNAME/bridge

# A TCP port of 127.0.0.1 free when asked (another process may take it
# before the server does: the callers then try another).
freeport() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Wait until state directory $2 of queue $1 holds $3 entries, at most
# ${4:-60} seconds.
reach() {
	local i
	for ((i = 0; i < ${4:-60} * 10; i++)); do
		[ "$(count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.1
	done
	fail "$1/$2 holds $(count "$1" "$2"), not $3, after ${4:-60} s"
}

# Put $1 messages "msg 1" .. "msg $1" into outbox, retried quickly.
fill_outbox() {
	seq "$1" | sed 's/^/msg /' | q put -l outbox >/dev/null
	q config outbox backoff 1s
	q config outbox backoff-max 2s
	q config outbox attempts 1000
}

# The bridge out: q work publishing batches of ${1:-100}; PID in $wpid,
# its log in $LOG.
start_bridge() {
	q work -f -b "${1:-100}" outbox -- "$BRIDGE/$BROKER-publish" \
		</dev/null >/dev/null 2>>"$LOG" &
	wpid=$!
	track "$wpid"
}

# Stop the bridge as an operator would (SIGTERM: it finishes its batch).
stop_bridge() {
	kill -TERM "$wpid"
	wait "$wpid" || true
}
