#!/usr/bin/env bats
# q sweep: housekeeping.

load helper

# Rewrite the lease of the only claim in cur/ of queue $1 to $2.
setlease() {
	local f
	f=$(names "$1" cur)
	mv "$(qpath "$1")/cur/$f" "$(qpath "$1")/cur/${f%,l=*},l=$2"
}

@test "an expired lease goes back to new/, keeping a=" {
	id=$(q put -m x jobs)
	q take jobs >/dev/null
	setlease jobs 1000000000
	run --separate-stderr -0 q sweep jobs
	assert_output "jobs: cur/$id,a=1,l=1000000000: lease expired, returned to new/"
	assert_equal "$(names jobs new)" "$id,a=1"
}

@test "a live lease is left alone" {
	q put -m x jobs >/dev/null
	q take -l 1h jobs >/dev/null
	before=$(snapshot jobs)
	run -0 q sweep jobs
	assert_output ""
	assert_equal "$(snapshot jobs)" "$before"
}

@test "a forged lease beyond 12 hours counts as expired; one just within holds" {
	id=$(q put -m x jobs)
	q take jobs >/dev/null
	setlease jobs 9999999999
	run -0 q sweep jobs
	assert_equal "$(names jobs new)" "$id,a=1"
	# a minute past the 12-hour limit, then a minute short of it
	q take jobs >/dev/null
	setlease jobs $(($(date +%s) + 12 * 3600 + 60))
	run -0 q sweep jobs
	assert_equal "$(names jobs new)" "$id,a=2"
	q take jobs >/dev/null
	l=$(($(date +%s) + 12 * 3600 - 60))
	setlease jobs "$l"
	run -0 q sweep jobs
	assert_output ""
	assert_equal "$(names jobs cur)" "$id,a=3,l=$l"
}

@test "out of attempts: failed/ instead of new/" {
	id=$(q put -m x jobs)
	q config jobs attempts 2
	t=$(q take jobs); q release jobs "$t"
	q take jobs >/dev/null
	setlease jobs 1000000000
	run -0 q sweep jobs
	assert_output "jobs: cur/$id,a=2,l=1000000000: out of attempts, moved to failed/"
	assert_equal "$(names jobs failed)" "$id,a=2"
}

@test "out of attempts counts from b=: a retried message's expired claim goes back to new/" {
	id=$(q put -m x jobs)
	q config jobs attempts 2
	# as q retry leaves a message that used its 2 attempts: a=2,b=2
	mv "$(qpath jobs)/new/$id" "$(qpath jobs)/new/$id,a=2,b=2"
	q take jobs >/dev/null
	assert_equal "$(names jobs cur | cut -d, -f1-3)" "$id,a=3,b=2"
	setlease jobs 1000000000
	run -0 q sweep jobs
	assert_output "jobs: cur/$id,a=3,b=2,l=1000000000: lease expired, returned to new/"
	assert_equal "$(names jobs new)" "$id,a=3,b=2"
	# its second attempt since the retry is its last
	q take jobs >/dev/null
	setlease jobs 1000000000
	run -0 q sweep jobs
	assert_output "jobs: cur/$id,a=4,b=2,l=1000000000: out of attempts, moved to failed/"
}

@test "-n reports and changes nothing" {
	q put -m x jobs >/dev/null
	q take jobs >/dev/null
	setlease jobs 1000000000
	before=$(snapshot jobs)
	run -0 q sweep -n jobs
	assert_output --partial "lease expired, would return to new/"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "tmp/ files older than 36 hours are removed, younger ones kept" {
	q put -m x jobs >/dev/null
	old="$(qpath jobs)/tmp/1764491333.123456.1_1.h"
	young="$(qpath jobs)/tmp/1764491333.123456.1_2.h"
	touch -d '37 hours ago' "$old"
	touch -d '35 hours ago' "$young"
	run -0 q sweep jobs
	assert_output "jobs: tmp/1764491333.123456.1_1.h: stale, removed"
	assert_not_exists "$old"
	assert_exists "$young"
}

@test "done/ past keep-done is removed; failed/ is kept forever by default" {
	putn jobs 2
	t=$(q take jobs); q ack jobs "$t"
	t=$(q take jobs); q fail jobs "$t"
	q config jobs keep-done 1s
	# retention counts from the time the message entered done/
	until (( $(date +%s) > $(stat -c %Z "$(qpath jobs)/done/$(names jobs done)") + 1 )); do
		sleep 0.2
	done
	run -0 q sweep jobs
	assert_output --partial "done/"
	assert_output --partial "past retention, removed"
	assert_equal "$(count jobs done)" 0
	assert_equal "$(count jobs failed)" 1
}

@test "foreign files are reported, never touched" {
	q put -m x jobs >/dev/null
	echo secret >"$BATS_TEST_TMPDIR/secret"
	touch "$(qpath jobs)/new/not-a-message"
	ln -s "$BATS_TEST_TMPDIR/secret" "$(qpath jobs)/cur/1764491333.123456.1_1.h,a=1,l=1000000000"
	mkfifo "$(qpath jobs)/done/1764491333.123456.1_2.h"
	touch "$(qpath jobs)/failed/"$'bad\nname'
	q config jobs keep-done 0
	before=$(ls -la "$(qpath jobs)"/*)
	# said only when asked: a sweep from cron does not repeat them hourly
	run --separate-stderr -0 timeout 10 q sweep jobs
	assert_output ""
	run --separate-stderr -0 timeout 10 q sweep -v jobs
	assert_line "jobs: new/not-a-message: foreign file, left alone"
	assert_line "jobs: cur/1764491333.123456.1_1.h,a=1,l=1000000000: foreign file, left alone"
	assert_line "jobs: done/1764491333.123456.1_2.h: foreign file, left alone"
	assert_line 'jobs: failed/bad\nname: foreign file, left alone'
	assert_equal "$(ls -la "$(qpath jobs)"/*)" "$before"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/secret")" secret
}

@test "without a queue every queue under QDIR is swept; other entries skipped" {
	a=$(q put -m x one)
	b=$(q put -m x two)
	q take one >/dev/null; q take two >/dev/null
	setlease one 1000000000
	setlease two 1000000000
	mkdir "$QDIR/not-a-queue"
	touch "$QDIR/plain-file"
	run --separate-stderr -0 q sweep
	assert_equal "${#lines[@]}" 2
	assert_equal "$(names one new)" "$a,a=1"
	assert_equal "$(names two new)" "$b,a=1"
}

@test "sweep with no QDIR at all says so: 66, so cron mails a typo" {
	run --separate-stderr -66 q sweep
	assert_output ""
	assert_equal "$stderr" "q sweep: $QDIR: no queue directory"
}

@test "sweep of an empty spool succeeds quietly" {
	mkdir -p "$QDIR"
	run --separate-stderr -0 q sweep
	assert_output ""
	assert_equal "$stderr" ""
}

@test "a missing queue is 66" {
	run --separate-stderr -66 q sweep nosuch
	assert_equal "$stderr" "q sweep: nosuch: no such queue"
}

@test "a QDIR that cannot be read is reported" {
	QDIR=/etc/passwd run --separate-stderr -66 q sweep
	assert_equal "$stderr" "q sweep: /etc/passwd: Not a directory"
}
