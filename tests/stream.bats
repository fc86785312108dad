#!/usr/bin/env bats
# q put -l and -0 stream: records are committed in groups as they come,
# each group's IDs printed once it is durable (q(1) put, SPEC section 4).

load helper

# Lines in file $1, once there are at least $2 (waits up to 10 s).
lines_within() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l <"$1")" -ge "$2" ] && break
		sleep 0.1
	done
	wc -l <"$1" | tr -d ' '
}

setup() {
	export QDIR="$BATS_TEST_TMPDIR/spool"
	unset XDG_STATE_HOME
	mkfifo "$BATS_TEST_TMPDIR/in"
	out="$BATS_TEST_TMPDIR/out"
	: >"$out"
}

teardown() {
	exec 4>&- 2>/dev/null || true
	[ -z "${putter:-}" ] || kill "$putter" 2>/dev/null || true
}

# Start q put "$@" reading the fifo; fd 4 writes to it.
start() {
	q put "$@" <"$BATS_TEST_TMPDIR/in" >"$out" 2>"$BATS_TEST_TMPDIR/err" &
	putter=$!
	exec 4>"$BATS_TEST_TMPDIR/in"
}

@test "put -l commits what it has read while the input goes on" {
	start -l jobs
	echo first >&4
	assert_equal "$(lines_within "$out" 1)" 1
	# enqueued and durable before the producer is done
	assert_equal "$(names jobs new)" "$(cat "$out")"
	assert_equal "$(cat "$(qpath jobs)/new/$(cat "$out")")" first
	echo second >&4
	assert_equal "$(lines_within "$out" 2)" 2
	exec 4>&-
	wait "$putter"
	putter=
	assert_equal "$(count jobs new)" 2
	assert_equal "$(count jobs tmp)" 0
}

@test "--group N commits every N records; the IDs come in input order" {
	run --separate-stderr -0 bash -c 'seq 1 7 | q put -l --group 2 --linger 60000 jobs'
	assert_equal "${#lines[@]}" 7
	for i in 1 2 3 4 5 6 7; do
		assert_equal "$(cat "$(qpath jobs)/new/${lines[i - 1]}")" "$i"
	done
	# IDs are in enqueue order, so ls lists them as the input came
	assert_equal "$(printf '%s\n' "${lines[@]}")" "$(names jobs new)"
}

@test "a signal mid-stream: committed groups stay, the open one is removed" {
	start -l --group 2 --linger 60000 jobs
	printf 'a\nb\n' >&4
	assert_equal "$(lines_within "$out" 2)" 2
	echo c >&4
	# c is in tmp/, in a group that waits for its second record
	for ((i = 0; i < 50; i++)); do
		[ "$(count jobs tmp)" -eq 1 ] && break
		sleep 0.1
	done
	assert_equal "$(count jobs tmp)" 1
	kill -TERM "$putter"
	st=0
	wait "$putter" || st=$?
	putter=
	assert_equal "$st" 143
	assert_equal "$(wc -l <"$out")" 2
	assert_equal "$(count jobs new)" 2
	assert_equal "$(count jobs tmp)" 0
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ""
}

@test "--linger commits a group that is not full once its first record is that old" {
	start -0 --group 1000 --linger 200 jobs
	printf 'x\0' >&4
	assert_equal "$(lines_within "$out" 1)" 1
	assert_equal "$(cat "$(qpath jobs)/new/$(cat "$out")")" x
	exec 4>&-
	wait "$putter"
	putter=
}

@test "-m with -l joins the stream; a last line without newline is a record" {
	printf 'b\nc' >"$BATS_TEST_TMPDIR/f"
	run --separate-stderr -0 q put -l -m a --group 2 jobs "$BATS_TEST_TMPDIR/f"
	assert_equal "${#lines[@]}" 3
	assert_equal "$(cat "$(qpath jobs)/new/${lines[0]}")" a
	assert_equal "$(cat "$(qpath jobs)/new/${lines[2]}")" c
}

@test "--group and --linger take numbers in range" {
	for bad in 0 x -1 1000001; do
		run --separate-stderr -65 q put -l --group "$bad" jobs </dev/null
		assert_equal "$stderr" "q put: invalid group: $bad"
	done
	run --separate-stderr -65 q put -l --linger 3600001 jobs </dev/null
	assert_equal "$stderr" "q put: invalid linger: 3600001"
	assert_not_exist "$(qpath jobs)"
}
