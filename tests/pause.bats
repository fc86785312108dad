#!/usr/bin/env bats
# q pause and q resume: stop and restart claiming; put keeps working.

load helper

teardown() {
	if [ -n "${worker:-}" ]; then
		kill "$worker" 2>/dev/null || true
	fi
}

@test "pause creates QUEUE/paused and touches no message" {
	putn jobs 2
	before=$(snapshot jobs)
	run --separate-stderr -0 q pause jobs
	assert_output ""
	assert_equal "$stderr" ""
	assert_file_exists "$(qpath jobs)/paused"
	assert_equal "$(snapshot jobs | grep -v '^\./paused ')" "$before"
}

@test "a paused queue gives take nothing: 75" {
	putn jobs 2
	q pause jobs
	before=$(snapshot jobs)
	run --separate-stderr -75 q take jobs
	assert_output ""
	assert_equal "$(count jobs cur)" 0
	assert_equal "$(snapshot jobs)" "$before"
}

@test "q work claims nothing from a paused queue" {
	putn jobs 2
	q pause jobs
	before=$(snapshot jobs)
	run --separate-stderr -0 timeout 10 q work jobs -- cat
	assert_output ""
	assert_equal "$(count jobs new)" 2
	assert_equal "$(count jobs cur)" 0
	assert_equal "$(count jobs done)" 0
	assert_equal "$(snapshot jobs)" "$before"
}

@test "put still enqueues into a paused queue" {
	q put -m one jobs >/dev/null
	q pause jobs
	run --separate-stderr -0 q put -m two jobs
	assert_equal "$(names jobs new | tail -n 1)" "$output"
	assert_equal "$(count jobs new)" 2
	assert_file_exists "$(qpath jobs)/paused"
}

@test "resume removes QUEUE/paused and claiming starts again" {
	id=$(q put -m one jobs)
	q pause jobs
	run --separate-stderr -0 q resume jobs
	assert_output ""
	assert_equal "$stderr" ""
	assert_not_exist "$(qpath jobs)/paused"
	run --separate-stderr -0 q take jobs
	assert_output "$id,a=1"
}

@test "after resume q work processes what was put while paused" {
	q put -m before jobs >/dev/null
	q pause jobs
	q put -m during jobs >/dev/null
	q resume jobs
	run --separate-stderr -0 timeout 10 q work -q jobs -- cat
	assert_output "before
during"
	assert_equal "$(count jobs new)" 0
	assert_equal "$(count jobs done)" 2
}

@test "a q work -f idling on a paused queue starts claiming after resume" {
	q put -m held jobs >/dev/null
	q pause jobs
	q work -f -q jobs -- cat >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	worker=$!
	# the worker is up once it has swept; the message stays put meanwhile
	sleep 1
	assert_equal "$(count jobs new)" 1
	assert_equal "$(count jobs cur)" 0
	q resume jobs
	for ((i = 0; i < 100; i++)); do
		[ "$(count jobs done)" -eq 1 ] && break
		sleep 0.1
	done
	kill "$worker"
	wait "$worker" || true
	worker=
	assert_equal "$(count jobs done)" 1
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" held
	# said once, even under -q: an idle worker on a paused queue is news
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" \
		"q work: jobs: paused: nothing is claimed until q resume"
}

@test "pause twice and resume twice both succeed" {
	q put -m x jobs >/dev/null
	run --separate-stderr -0 q pause jobs
	run --separate-stderr -0 q pause jobs
	assert_equal "$stderr" ""
	assert_file_exists "$(qpath jobs)/paused"
	run --separate-stderr -0 q resume jobs
	run --separate-stderr -0 q resume jobs
	assert_equal "$stderr" ""
	assert_not_exist "$(qpath jobs)/paused"
}

@test "resume of a queue that was never paused succeeds and changes nothing" {
	putn jobs 2
	before=$(snapshot jobs)
	run --separate-stderr -0 q resume jobs
	assert_output ""
	assert_equal "$(snapshot jobs)" "$before"
}

@test "pause and resume take exactly one queue" {
	q put -m x jobs >/dev/null
	q put -m x mail >/dev/null
	run --separate-stderr -64 q pause jobs mail
	assert_equal "$stderr" "q pause: unexpected operand: mail
usage: q pause queue"
	run --separate-stderr -64 q pause
	assert_equal "$stderr" "q pause: missing queue
usage: q pause queue"
	assert_not_exist "$(qpath jobs)/paused"
	assert_not_exist "$(qpath mail)/paused"
	q pause jobs
	run --separate-stderr -64 q resume jobs mail
	assert_equal "$stderr" "q resume: unexpected operand: mail
usage: q resume queue"
	run --separate-stderr -64 q resume
	assert_equal "$stderr" "q resume: missing queue
usage: q resume queue"
	assert_file_exists "$(qpath jobs)/paused"
}

@test "pause and resume of a missing queue are 66 and create nothing" {
	run --separate-stderr -66 q pause nope
	assert_output ""
	assert_equal "$stderr" "q pause: nope: no such queue"
	assert_not_exist "$QDIR/nope"
	run --separate-stderr -66 q resume nope
	assert_output ""
	assert_equal "$stderr" "q resume: nope: no such queue"
	assert_not_exist "$QDIR/nope"
}
