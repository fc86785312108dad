#!/usr/bin/env bats
# Queue names and paths: what a queue argument may turn into a queue, and
# how names read back in text and JSON (q(1) QUEUES, SPEC section 1).

load helper

# Every file and directory under $1, for "nothing was created".
tree() {
	(cd "$1" && find . | LC_ALL=C sort)
}

@test "put never turns a directory holding other files into a queue" {
	mkdir -p "$BATS_TEST_TMPDIR/etc/sub"
	echo keep >"$BATS_TEST_TMPDIR/etc/passwd"
	before=$(tree "$BATS_TEST_TMPDIR/etc")
	run --separate-stderr -66 q put -m x "$BATS_TEST_TMPDIR/etc"
	assert_equal "$stderr" "q put: $BATS_TEST_TMPDIR/etc: not a queue"
	assert_equal "$output" ""
	assert_equal "$(tree "$BATS_TEST_TMPDIR/etc")" "$before"
}

@test "put adopts an empty directory as a new queue" {
	mkdir "$BATS_TEST_TMPDIR/empty"
	run --separate-stderr -0 q put -m x "$BATS_TEST_TMPDIR/empty"
	assert_output --regexp "$ID_RE"
	assert_equal "$(ls "$BATS_TEST_TMPDIR/empty/new")" "$output"
}

@test "put completes a queue whose making was cut short" {
	mkdir -p "$BATS_TEST_TMPDIR/half/tmp" "$BATS_TEST_TMPDIR/half/new"
	run --separate-stderr -0 q put -m x "$BATS_TEST_TMPDIR/half"
	assert_dir_exists "$BATS_TEST_TMPDIR/half/failed"
	assert_equal "$(ls "$BATS_TEST_TMPDIR/half/new")" "$output"
}

@test "other commands call a directory without state directories no queue" {
	mkdir -p "$BATS_TEST_TMPDIR/plain"
	run --separate-stderr -66 q ls "$BATS_TEST_TMPDIR/plain"
	assert_equal "$stderr" "q ls: $BATS_TEST_TMPDIR/plain: not a queue"
	assert_equal "$(ls -A "$BATS_TEST_TMPDIR/plain")" ""
}

@test "a trailing slash names the same queue" {
	q put -m one photos >/dev/null
	(cd "$BATS_TEST_TMPDIR" && q put -m two photos/ >/dev/null)
	assert_not_exist "$BATS_TEST_TMPDIR/photos"
	assert_equal "$(count photos new)" 2
	run --separate-stderr -0 q ls photos//
	assert_equal "${#lines[@]}" 2
}

@test "a relative QDIR or XDG_STATE_HOME is an error, and nothing is made" {
	cd "$BATS_TEST_TMPDIR"
	run --separate-stderr -64 env QDIR=rel q put -m x jobs
	assert_equal "$stderr" "q put: QDIR: rel: not an absolute path"
	run --separate-stderr -64 env -u QDIR XDG_STATE_HOME=st q stat
	assert_equal "$stderr" \
		"q stat: XDG_STATE_HOME: st: not an absolute path"
	assert_not_exist rel
	assert_not_exist st
}

@test "a directory given as FILE is named, and no queue is made" {
	run --separate-stderr -66 q put newq "$BATS_TEST_TMPDIR"
	assert_equal "$stderr" "q put: $BATS_TEST_TMPDIR: a directory, not a file"
	assert_not_exist "$(qpath newq)"
}

@test "unsub of a queue elsewhere with the same name is not subscribed" {
	q sub ev billing
	q put -m x "$BATS_TEST_TMPDIR/other/billing" >/dev/null
	run --separate-stderr -66 q unsub ev "$BATS_TEST_TMPDIR/other/billing"
	assert_equal "$stderr" \
		"q unsub: ev: $BATS_TEST_TMPDIR/other/billing: not subscribed"
	assert_link_exists "$(qpath ev)/subs/billing"
	# the subscribed queue itself, by path and with a trailing slash
	run --separate-stderr -0 q unsub ev "$(qpath billing)/"
	assert_not_exist "$(qpath ev)/subs/billing"
}

@test "a UTF-8 queue name reads as itself in a UTF-8 locale" {
	q put -m x ünï >/dev/null
	run --separate-stderr -0 env LC_ALL=C.UTF-8 q stat
	assert_line --index 0 "ünï"
	run --separate-stderr -0 env LC_ALL=C q stat
	assert_line --index 0 '\M-C\M-<n\M-C\M-/'
}

@test "a UTF-8 queue name round-trips through --json and jq -r" {
	q put -m x ünï >/dev/null
	name=$(q stat --json | jq -r .queue)
	assert_equal "$name" "ünï"
	run --separate-stderr -0 q ls "$name"
	assert_equal "${#lines[@]}" 1
	# ls --json still reads the queue
	run --separate-stderr -0 q ls --json "$(qpath ünï)"
	assert_equal "$(jq -r .state <<<"$output")" new
}

@test "bytes that are no UTF-8 stay valid JSON" {
	name=$(printf 'a\377b')
	q put -m x "$name" >/dev/null
	run --separate-stderr -0 q stat --json
	assert_equal "$(jq -r .queue <<<"$output")" "a�b"
	run --separate-stderr -0 env LC_ALL=C.UTF-8 q stat
	assert_line --index 0 'a\M^?b'
}

@test "a control character in a name is escaped in text and JSON" {
	name=$(printf 'x\033y')
	q put -m x "$name" >/dev/null
	run --separate-stderr -0 env LC_ALL=C.UTF-8 q stat
	assert_line --index 0 'x\^[y'
	run --separate-stderr -0 q stat --json
	assert_output --partial '"x\u001by"'
}

@test "a symlink to a queue of QDIR is not listed twice" {
	q put -m x jobs >/dev/null
	ln -s jobs "$QDIR/alias"
	ln -s "$QDIR/jobs" "$QDIR/alias2"
	run --separate-stderr -0 q stat
	assert_equal "$(grep -c '^[^ ]' <<<"$output")" 1
	assert_line --index 0 jobs
}

@test "a symlink to a queue outside QDIR is listed under its own name" {
	q put -m x "$BATS_TEST_TMPDIR/outside" >/dev/null
	mkdir -p "$QDIR"
	ln -s "$BATS_TEST_TMPDIR/outside" "$QDIR/ext"
	run --separate-stderr -0 q stat
	assert_line --index 0 ext
}

@test "stat and sweep with a QDIR that is not there: said, and 66" {
	run --separate-stderr -66 env QDIR=/nonexistent q stat
	assert_equal "$stderr" "q stat: /nonexistent: no queue directory"
	run --separate-stderr -66 env QDIR=/nonexistent q sweep
	assert_equal "$stderr" "q sweep: /nonexistent: no queue directory"
	assert_not_exist /nonexistent
}
