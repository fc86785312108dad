#!/usr/bin/env bats
# q wait, and q take -w: blocking until a message is ready.
#
# Every command that could block runs under timeout(1) or in the background;
# background processes are killed in teardown.

load helper
load process

# Wait for background process $1 to end; its exit status in $bstatus.
reap() {
	waitfor gone "$1"
	bstatus=0
	wait "$1" || bstatus=$?
}

# Create queue $1 with nothing ready in it.
mkqueue() {
	local t
	q put -m x "$1" >/dev/null
	t=$(q take "$1")
	q ack "$1" "$t"
}

# --- q wait ----------------------------------------------------------------

@test "wait -t 1 on an empty queue: 75" {
	mkqueue jobs
	run -75 timeout 20 q wait -t 1 jobs
	assert_output ""
}

@test "wait returns 0 at once when a message is ready, and claims nothing" {
	id=$(q put -m x jobs)
	run -0 timeout 20 q wait jobs
	assert_output ""
	assert_equal "$(names jobs new)" "$id"
	assert_equal "$(count jobs cur)" 0
}

@test "a waiting q wait returns 0 after a put" {
	mkqueue jobs
	q wait -t 60 jobs </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
	pid=$!
	track "$pid"
	waitfor inpoll "$pid"
	alive "$pid" || fail "q wait ended before the put"
	q put -m x jobs >/dev/null
	reap "$pid"
	assert_equal "$bstatus" 0
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" ""
	assert_equal "$(count jobs new)" 1
}

@test "only delayed messages: wait -t 1 gives 75" {
	q put -d 1h -m x jobs >/dev/null
	run -75 timeout 20 q wait -t 1 jobs
	assert_equal "$(count jobs new)" 1
}

@test "wait returns 0 when a delayed message falls due" {
	q put -d 1 -m x jobs >/dev/null
	run -0 timeout 20 q wait -t 10 jobs
}

@test "wait on a paused queue: 75 even with a message ready" {
	q put -m x jobs >/dev/null
	q pause jobs
	run -75 --separate-stderr timeout 20 q wait -t 1 jobs
	assert_equal "$stderr" "q wait: jobs: paused"
}

@test "a message in cur/, done/ or failed/ is not ready" {
	q put -m a jobs >/dev/null
	q put -m b jobs >/dev/null
	q put -m c jobs >/dev/null
	q take jobs >/dev/null
	t=$(q take jobs) && q ack jobs "$t"
	t=$(q take jobs) && q fail jobs "$t"
	run -75 timeout 20 q wait -t 1 jobs
}

@test "foreign entries in new/ are not ready: wait and take -w give 75" {
	mkqueue jobs
	new="$QDIR/jobs/new"
	echo secret >"$BATS_TEST_TMPDIR/secret"
	ln -s "$BATS_TEST_TMPDIR/secret" "$new/1700000000.000001.1_0.host"
	mkfifo "$new/1700000000.000002.1_0.host"
	echo x >"$new/not a message"
	before=$(snapshot jobs)
	run -75 timeout 20 q wait -t 1 jobs
	run -75 timeout 20 q take -w 1 jobs
	assert_output ""
	assert_equal "$(snapshot jobs)" "$before"
	assert [ -L "$new/1700000000.000001.1_0.host" ]
	assert [ -p "$new/1700000000.000002.1_0.host" ]
}

@test "wait: bad -t is 65, usage is 64, missing queue is 66" {
	mkqueue jobs
	for t in x -1 5y 1.5 ""; do
		run timeout 20 q wait -t "$t" jobs
		[ "$status" -eq 65 ] || fail "q wait -t '$t': exit $status, not 65"
	done
	run -64 q wait
	run -64 q wait jobs jobs
	run -64 q wait -x jobs
	run -66 timeout 20 q wait -t 1 nosuchqueue
	assert_output --partial "nosuchqueue"
}

# --- q take -w -------------------------------------------------------------

@test "take -w 5 gets a message put after it started and prints its token" {
	mkqueue jobs
	q take -w 5 jobs </dev/null >"$BATS_TEST_TMPDIR/out" \
	    2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	track "$pid"
	waitfor inpoll "$pid"
	alive "$pid" || fail "take -w ended before the put"
	id=$(q put -m late jobs)
	reap "$pid"
	assert_equal "$bstatus" 0
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "$id,a=1"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ""
	assert_equal "$(count jobs new)" 0
	claim=$(names jobs cur)
	[[ $claim == "$id,a=1,l="* ]] || fail "claim: $claim"
	[[ $claim != *,w=* ]] || fail "take left a w=: $claim"
}

@test "take -w 1 on an empty queue: 75, nothing printed" {
	mkqueue jobs
	run -75 --separate-stderr timeout 20 q take -w 1 jobs
	assert_output ""
	assert_equal "$(count jobs cur)" 0
}

@test "take -w returns at once when a message is ready" {
	id=$(q put -m x jobs)
	run -0 timeout 20 q take -w 1h jobs
	assert_output "$id,a=1"
}

@test "take -w with only delayed messages: 75" {
	q put -d 1h -m x jobs >/dev/null
	before=$(snapshot jobs)
	run -75 timeout 20 q take -w 1 jobs
	assert_output ""
	assert_equal "$(snapshot jobs)" "$before"
}

@test "take: bad -w is 65, nothing claimed" {
	q put -m x jobs >/dev/null
	before=$(snapshot jobs)
	for w in x -1 5y 1.5 ""; do
		run timeout 20 q take -w "$w" jobs
		[ "$status" -eq 65 ] || fail "q take -w '$w': exit $status, not 65"
	done
	assert_equal "$(snapshot jobs)" "$before"
}
