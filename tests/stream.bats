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

# --- put -K: each record its own dedup key ----------------------------------

# The bodies of every message of queue $1 in new/, sorted.
bodies() {
	cat "$QDIR/$1"/new/* | LC_ALL=C sort
}

@test "-K: a key seen before, in this input or an earlier put, enqueues nothing and prints the first ID" {
	run --separate-stderr -0 bash -c 'printf "a\tone\nb\ttwo\na\tthree\n" | q put -l -K jobs'
	assert_equal "${#lines[@]}" 3
	# the third record's key is the first's: its ID in its place
	assert_equal "${lines[2]}" "${lines[0]}"
	assert_equal "$stderr" "q put: jobs: 1 of 3 records had a key seen before: nothing enqueued for them"
	first=${lines[0]}
	# the key is not part of the message; the newline is
	assert_equal "$(cat "$(qpath jobs)/new/$first")" one
	assert_equal "$(wc -c <"$(qpath jobs)/new/$first")" 4
	assert_equal "$(count jobs new)" 2
	# again, with one new key: only that one is enqueued
	run --separate-stderr -0 bash -c 'printf "b\tnew\nc\tfour\na\tx\n" | q put -l -K jobs'
	assert_equal "${lines[2]}" "$first"
	assert_equal "$stderr" "q put: jobs: 2 of 3 records had a key seen before: nothing enqueued for them"
	assert_equal "$(bodies jobs)" $'four\none\ntwo'
	assert_equal "$(count jobs tmp)" 0
	# the record of a key is keys/SHA256(key), as for -k
	hash=$(printf c | sha256sum | cut -d' ' -f1)
	assert_equal "$(cat "$(qpath jobs)/keys/$hash")" "${lines[1]}"
}

@test "-K with -0: the key ends at the first tab, the message may hold tabs and newlines" {
	run --separate-stderr -0 bash -c 'printf "k1\tx\ty\nz\0k2\t\0" | q put -0 -K jobs'
	assert_equal "${#lines[@]}" 2
	assert_equal "$(cat "$(qpath jobs)/new/${lines[0]}")" $'x\ty\nz'
	# an empty message is a message
	assert_equal "$(wc -c <"$(qpath jobs)/new/${lines[1]}")" 0
	# -k and -K share their records: -k k1 finds what -K put
	run --separate-stderr -0 q put -k k1 -m other jobs
	assert_output "${lines[0]}"
}

@test "-K: a record without a key stops put; earlier groups stay, its group is removed" {
	start -l -K --group 2 --linger 60000 jobs
	printf 'a\t1\nb\t2\n' >&4
	assert_equal "$(lines_within "$out" 2)" 2
	printf 'c\t3\nno key here\n' >&4
	st=0
	wait "$putter" || st=$?
	putter=
	assert_equal "$st" 65
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "q put: jobs: record 4: no tab after its key"
	assert_equal "$(wc -l <"$out")" 2
	assert_equal "$(bodies jobs)" $'1\n2'
	assert_equal "$(count jobs tmp)" 0
	run --separate-stderr -65 bash -c 'printf "\tbody\n" | q put -l -K jobs'
	assert_equal "$stderr" "q put: jobs: record 1: an empty key"
	assert_equal "$(count jobs new)" 2
}

@test "-K: a last record cut short (no newline or NUL) is refused, its key not recorded" {
	# a producer killed mid-record: the earlier groups stay, the cut
	# record's group is removed, and the full record can come later
	start -l -K --group 2 --linger 60000 jobs
	printf 'a\t1\nb\t2\n' >&4
	assert_equal "$(lines_within "$out" 2)" 2
	printf 'c\t3\nd\tfour, cut sh' >&4
	exec 4>&-
	st=0
	wait "$putter" || st=$?
	putter=
	assert_equal "$st" 65
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "q put: jobs: record 4: no newline at its end: input cut short?"
	assert_equal "$(bodies jobs)" $'1\n2'
	assert_equal "$(count jobs tmp)" 0
	run --separate-stderr -0 bash -c 'printf "c\t3\nd\tfour, whole\n" | q put -l -K jobs'
	assert_equal "${#lines[@]}" 2
	assert_equal "$(bodies jobs)" $'1\n2\n3\nfour, whole'
	run --separate-stderr -65 bash -c 'printf "e\t5\0f\t6" | q put -0 -K jobs'
	assert_equal "$stderr" "q put: jobs: record 2: no NUL at its end: input cut short?"
	assert_equal "$(count jobs new)" 4
	# without -K a last line without newline is a message, as ever
	run -0 bash -c 'printf "g" | q put -l jobs'
	assert_equal "$(count jobs new)" 5
}

@test "-K re-fed after put was killed mid-stream enqueues every record once" {
	seq 1 3000 | awk '{ printf "id-%d\tmessage %d\n", $1, $1 }' >"$BATS_TEST_TMPDIR/feed"
	start -l -K --group 100 --linger 60000 jobs
	head -n 1750 "$BATS_TEST_TMPDIR/feed" >&4
	# some groups are in, the rest of the input is still to come
	lines_within "$out" 1700 >/dev/null
	kill -9 "$putter"
	wait "$putter" || true
	putter=
	exec 4>&-
	before=$(count jobs new)
	[ "$before" -ge 1700 ] && [ "$before" -lt 3000 ]
	# the producer starts over from the beginning
	run --separate-stderr -0 q put -l -K jobs "$BATS_TEST_TMPDIR/feed"
	assert_equal "${#lines[@]}" 3000
	assert_equal "$(count jobs new)" 3000
	assert_equal "$(bodies jobs)" "$(seq 1 3000 | sed 's/^/message /' | LC_ALL=C sort)"
	# kill -9 leaves at most the group it was writing in tmp/, for sweep
	[ "$(count jobs tmp)" -le 100 ]
}

@test "-K: two producers feeding the same keys in opposite orders enqueue each once" {
	seq 1 600 | awk '{ printf "k%d\tm%d\n", $1, $1 }' >"$BATS_TEST_TMPDIR/fwd"
	tac "$BATS_TEST_TMPDIR/fwd" >"$BATS_TEST_TMPDIR/rev"
	q put -l -K --linger 0 jobs "$BATS_TEST_TMPDIR/fwd" >"$BATS_TEST_TMPDIR/o1" 2>/dev/null &
	p1=$!
	q put -l -K --linger 0 jobs "$BATS_TEST_TMPDIR/rev" >"$BATS_TEST_TMPDIR/o2" 2>/dev/null &
	p2=$!
	wait "$p1"
	wait "$p2"
	assert_equal "$(count jobs new)" 600
	assert_equal "$(bodies jobs)" "$(seq 1 600 | sed 's/^/m/' | LC_ALL=C sort)"
	# each key has one ID, whichever producer printed it
	assert_equal "$(paste "$BATS_TEST_TMPDIR/o1" <(tac "$BATS_TEST_TMPDIR/o2") | awk '$1 != $2' | wc -l)" 0
}

@test "-K is for -l or -0 records, not -k or -m" {
	run --separate-stderr -64 q put -K jobs </dev/null
	assert_equal "${stderr_lines[0]}" "q put: -K keys the records of -l or -0"
	run --separate-stderr -64 q put -l -K -m text jobs </dev/null
	assert_equal "${stderr_lines[0]}" "q put: -K keys records, not -m texts"
	run --separate-stderr -64 q put -l -K -k key jobs </dev/null
	assert_equal "${stderr_lines[0]}" "q put: -k names one message: not with -l"
	assert_not_exist "$(qpath jobs)"
}
