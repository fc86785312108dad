#!/usr/bin/env bats
# q cat: message bodies.

load helper

@test "cat prints bodies by ID, token, name or path, in any state" {
	a=$(q put -m alpha jobs)
	b=$(q put -m beta jobs)
	run -0 q cat jobs "$a" "$b"
	assert_output $'alpha\nbeta'
	t=$(q take jobs)
	run -0 q cat jobs "$t"
	assert_output alpha
	run -0 q cat jobs "$(qpath jobs)/cur/$(names jobs cur)"
	assert_output alpha
	q ack jobs "$t"
	run -0 q cat jobs "$a"
	assert_output alpha
	cd "$(qpath jobs)"
	run -0 q cat "$(qpath jobs)" "done/$(names jobs done)"
	assert_output alpha
}

@test "cat of an unknown ID is 66 and goes on with the others" {
	a=$(q put -m alpha jobs)
	run --separate-stderr -66 q cat jobs 1764491333.123456.1_1.nohost "$a"
	assert_output alpha
	assert_equal "$stderr" "q cat: jobs: 1764491333.123456.1_1.nohost: no such message"
}

@test "malformed IDs and paths outside the queue are 65" {
	q put -m x jobs >/dev/null
	for bad in ../../etc/passwd /etc/passwd '' 'x y' $'a\nb'; do
		run --separate-stderr -65 q cat jobs "$bad"
		assert_output ""
		[[ $stderr == "q cat: jobs: "*": malformed ID" ]]
	done
	mkdir -p "$BATS_TEST_TMPDIR/other"
	cp "$(qpath jobs)/new/$(names jobs new)" "$BATS_TEST_TMPDIR/other/"
	run --separate-stderr -65 q cat jobs "$BATS_TEST_TMPDIR/other/$(names jobs new)"
	assert_output ""
	[[ $stderr == *": not a message of this queue" ]]
}

@test "cat never opens a symlink or a FIFO with a valid name" {
	echo secret >"$BATS_TEST_TMPDIR/secret"
	q put -m x jobs >/dev/null
	ln -s "$BATS_TEST_TMPDIR/secret" "$(qpath jobs)/new/1764491333.123456.1_1.evil"
	mkfifo "$(qpath jobs)/new/1764491333.123456.1_2.evil"
	run --separate-stderr -66 timeout 10 q cat jobs 1764491333.123456.1_1.evil
	refute_output --partial secret
	run --separate-stderr -66 timeout 10 q cat jobs 1764491333.123456.1_2.evil
}

@test "cat with no ID is a usage error" {
	run --separate-stderr -64 q cat jobs
	assert_equal "$stderr" "q cat: missing id
usage: q cat queue id ..."
}
