#!/usr/bin/env bats
# q drop: delete a whole queue, renamed away first, unless it is in use;
# only what q makes is ever deleted.

load helper

# What is left beside the queues in $QDIR, dot names included.
leftovers() {
	ls -A "$QDIR"
}

# A queue with a message in new/, done/ and failed/, a delayed one, a
# dedup key, a config and a pause.
full() {
	q put -m ready jobs >/dev/null
	q put -d 1h -m later jobs >/dev/null
	q put -k order-1 -m keyed jobs >/dev/null
	q ack jobs "$(q take jobs)"
	q fail jobs "$(q take jobs)"
	q config jobs lease 1m
	q pause jobs
	[ -n "$(ls -A "$(qpath jobs)/keys")" ] || fail "no key recorded"
}

@test "drop deletes the queue and everything in it, and says how many messages" {
	full
	q put -m other mail >/dev/null
	run --separate-stderr -0 q drop jobs
	assert_output ""
	assert_equal "$stderr" "q drop: jobs: 3 messages deleted with the queue"
	assert_not_exist "$(qpath jobs)"
	assert_equal "$(leftovers)" mail
	assert_equal "$(count mail new)" 1
	run --separate-stderr -66 q ls jobs
	assert_equal "$stderr" "q ls: jobs: no such queue"
}

@test "a put after drop makes a new, empty queue" {
	full
	q drop jobs 2>/dev/null
	id=$(q put -m again jobs)
	assert_equal "$(names jobs new)" "$id"
	assert_equal "$(count jobs done)" 0
	assert_not_exist "$(qpath jobs)/paused"
	assert_not_exist "$(qpath jobs)/config"
}

@test "drop of a queue given as a path" {
	q put -m x "$BATS_TEST_TMPDIR/elsewhere/jobs" >/dev/null
	run --separate-stderr -0 q drop "$BATS_TEST_TMPDIR/elsewhere/jobs/"
	assert_equal "$stderr" "q drop: $BATS_TEST_TMPDIR/elsewhere/jobs/: 1 message deleted with the queue"
	assert_not_exist "$BATS_TEST_TMPDIR/elsewhere/jobs"
	assert_equal "$(ls -A "$BATS_TEST_TMPDIR/elsewhere")" ""
}

@test "drop refuses a queue with claims: 75, nothing changed; -f drops it" {
	putn jobs 2
	q take jobs >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -75 q drop jobs
	assert_output ""
	assert_equal "$stderr" "q drop: jobs: has claimed messages (-f drops it anyway)"
	assert_equal "$(snapshot jobs)" "$before"
	assert_equal "$(leftovers)" jobs
	run --separate-stderr -0 q drop -f jobs
	assert_equal "$stderr" "q drop: jobs: 2 messages deleted with the queue"
	assert_not_exist "$(qpath jobs)"
	assert_equal "$(leftovers)" ""
}

@test "drop refuses a topic with subscribers: 75; -f drops it, not them" {
	q sub events appA
	q put -m hello events >/dev/null
	before=$(snapshot events)
	run --separate-stderr -75 q drop events
	assert_equal "$stderr" "q drop: events: has subscribers (-f drops it anyway)"
	assert_equal "$(snapshot events)" "$before"
	assert_link_exists "$(qpath events)/subs/appA"
	run --separate-stderr -0 --separate-stderr q drop --force events
	assert_not_exist "$(qpath events)"
	assert_equal "$(count appA new)" 1
}

@test "drop refuses a queue subscribed to a topic: 75; -f unsubscribes it" {
	q sub events appA
	q sub events appB
	q put -m one events >/dev/null
	before=$(snapshot appA)
	run --separate-stderr -75 q drop appA
	assert_output ""
	assert_equal "$stderr" "q drop: appA: subscribed to events (-f drops it anyway)"
	assert_equal "$(snapshot appA)" "$before"
	run --separate-stderr -0 q drop -f appA
	assert_equal "$stderr" "q drop: appA: 1 message deleted with the queue
q drop: appA: unsubscribed from events"
	assert_not_exist "$(qpath events)/subs/appA"
	assert_link_exists "$(qpath events)/subs/appB"
	# the topic goes on delivering, without a dangling subscription
	run --separate-stderr -0 q put -m two events
	assert_equal "$stderr" ""
	assert_equal "$(count appB new)" 2
	assert_not_exist "$(qpath appA)"
}

@test "drop never deletes what q did not make: 65, nothing changed, even with -f" {
	q put -m x jobs >/dev/null
	dir=$(qpath jobs)
	check() {
		before=$(cd "$dir" && find . | LC_ALL=C sort)
		for f in "" -f; do
			run --separate-stderr -65 q drop $f jobs
			assert_output ""
			assert_equal "$stderr" "q drop: jobs: $1: not made by q, left alone"
			assert_equal "$(cd "$dir" && find . | LC_ALL=C sort)" "$before"
			assert_equal "$(leftovers)" jobs
		done
	}
	printf 'mine\n' >"$dir/notes.txt"
	check notes.txt
	rm "$dir/notes.txt"
	printf 'mine\n' >"$dir/new/README"
	check new/README
	rm "$dir/new/README"
	mkdir "$dir/done/1764491333.123456.1_1.h"
	printf 'precious\n' >"$dir/done/1764491333.123456.1_1.h/data"
	check done/1764491333.123456.1_1.h
	rm -r "$dir/done/1764491333.123456.1_1.h"
	ln -s /etc/passwd "$dir/failed/1764491333.123456.1_2.h,a=1"
	check "failed/1764491333.123456.1_2.h,a=1"
	rm "$dir/failed/1764491333.123456.1_2.h,a=1"
	ln -s /etc "$dir/keys"
	rmdir "$dir/keys" 2>/dev/null || :
	check keys
	assert_file_exists /etc/passwd
}

@test "drop of a symbolic link to a queue is 66 and follows nothing" {
	q put -m x jobs >/dev/null
	ln -s "$(qpath jobs)" "$QDIR/alias"
	before=$(snapshot jobs)
	run --separate-stderr -66 q drop -f alias
	assert_output ""
	assert_equal "$stderr" "q drop: alias: not a queue"
	assert_link_exists "$QDIR/alias"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "drop of a missing queue, a plain directory or a bad name changes nothing" {
	mkdir -p "$QDIR/plain/sub"
	printf 'x\n' >"$QDIR/plain/file"
	run --separate-stderr -66 q drop nope
	assert_equal "$stderr" "q drop: nope: no such queue"
	run --separate-stderr q drop -f plain
	[ "$status" -eq 66 ] || fail "status $status: $stderr"
	assert_file_exists "$QDIR/plain/file"
	assert_dir_exists "$QDIR/plain/sub"
	run --separate-stderr -65 q drop .x
	assert_equal "$stderr" "q drop: .x: invalid queue name"
	run --separate-stderr -66 q drop -f /
	assert_dir_exists /etc
}

@test "drop takes exactly one queue" {
	putn jobs 1
	run --separate-stderr -64 q drop
	assert_equal "$stderr" "q drop: missing queue
usage: q drop [-f] queue"
	run --separate-stderr -64 q drop jobs jobs
	assert_dir_exists "$(qpath jobs)"
}

@test "drop renames the queue away before it deletes anything" {
	require_strace
	full
	ino=$(stat -c %i "$(qpath jobs)")
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=rename,renameat,renameat2,unlink,unlinkat,rmdir,fsync \
		-o "$BATS_TEST_TMPDIR/trace" q drop jobs 2>/dev/null
	first=$(grep -nE 'unlinkat|unlink\(|rmdir' "$BATS_TEST_TMPDIR/trace" | head -1 | cut -d: -f1)
	ren=$(grep -nE "rename.*\"jobs\".*\"\\.q-drop-$ino\"" "$BATS_TEST_TMPDIR/trace" | cut -d: -f1)
	[ -n "$ren" ] || fail "no rename to .q-drop-$ino: $(cat "$BATS_TEST_TMPDIR/trace")"
	[ "$ren" -lt "$first" ] || fail "deleted before the rename"
	# the parent is fsynced between the rename and the first unlink
	sed -n "$ren,${first}p" "$BATS_TEST_TMPDIR/trace" | grep -q fsync ||
		fail "no fsync between the rename and the deletion"
}

@test "a drop that fails half way leaves the rest hidden, never under the name" {
	require_strace
	full
	ino=$(stat -c %i "$(qpath jobs)")
	# the third unlinkat fails: after the rename, in the middle
	run --separate-stderr strace -f -qq -o /dev/null \
		-E ASAN_OPTIONS=detect_leaks=0 \
		-e inject=unlinkat:error=EIO:when=3 q drop jobs
	assert_equal "$status" 74
	assert_equal "$stderr" "q drop: jobs: $QDIR/.q-drop-$ino: Input/output error"
	assert_not_exist "$(qpath jobs)"
	assert_dir_exists "$QDIR/.q-drop-$ino"
	# q sees no queue there and a new one can be made
	run --separate-stderr -0 q ls
	assert_output ""
	run -0 q put -m new jobs
}
