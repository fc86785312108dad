#!/usr/bin/env bats
# q retry: failed/ -> new/, with a fresh attempt budget (b=).

load helper

# Put a message (extra put options in "$@") and fail it; print its ID.
failed() {
	local id
	id=$(q put "$@" jobs)
	q fail jobs "$(q take jobs)"
	printf '%s\n' "$id"
}

# Put a message and ack it; print its ID.
acked() {
	local id
	id=$(q put -m done jobs)
	q ack jobs "$(q take jobs)"
	printf '%s\n' "$id"
}

@test "retry moves a failed message to new/ with a fresh attempt budget" {
	id=$(failed -p 2 -m body)
	assert_equal "$(names jobs failed)" "$id,p=2,a=1"
	run --separate-stderr -0 q retry jobs "$id"
	assert_output ""
	assert_equal "$stderr" "q retry: jobs: 1 message back in new/"
	# a= keeps counting (tokens are never reused); the budget starts at b=
	assert_equal "$(names jobs new)" "$id,p=2,a=1,b=1"
	assert_equal "$(count jobs failed)" 0
	assert_equal "$(q cat jobs "$id")" body
}

@test "a retried message is claimed again as its first attempt, with a new token" {
	id=$(q put -m x jobs)
	q release jobs "$(q take jobs)"
	q fail jobs "$(q take jobs)"
	assert_equal "$(names jobs failed)" "$id,a=2"
	q retry jobs "$id"
	run -0 q take jobs
	assert_output "$id,a=3"
	run -0 timeout 20 q work jobs sh -c 'echo "$Q_ATTEMPT" >"$BATS_TEST_TMPDIR/attempt"; exit 75'
	run -0 q release jobs "$id"
	run -0 timeout 20 q work jobs sh -c 'echo "$Q_ATTEMPT" >"$BATS_TEST_TMPDIR/attempt"'
	assert_equal "$(cat "$BATS_TEST_TMPDIR/attempt")" 2
	assert_equal "$(names jobs done)" "$id,a=4,b=2"
}

@test "retry by token, by name and by path" {
	a=$(failed -m a)
	b=$(failed -m b)
	c=$(failed -m c)
	q retry jobs "$a,a=1"
	q retry jobs "$b,a=1"
	q retry jobs "$(qpath jobs)/failed/$c,a=1"
	assert_equal "$(names jobs new)" "$a,a=1,b=1
$b,a=1,b=1
$c,a=1,b=1"
	assert_equal "$(count jobs failed)" 0
}

@test "retry of several IDs retries each; the first failure decides" {
	a=$(failed -m a)
	b=$(failed -m b)
	run --separate-stderr -66 q retry jobs "$a" 1764491333.123456.1_1.h "$b"
	assert_equal "$stderr" "q retry: jobs: 1764491333.123456.1_1.h: no such message
q retry: jobs: 2 messages back in new/"
	assert_equal "$(names jobs new)" "$a,a=1,b=1
$b,a=1,b=1"
}

@test "retry -a moves every failed message and nothing else" {
	a=$(failed -m a)
	b=$(failed -p 3 -m b)
	d=$(acked)
	r=$(q put -m ready jobs)
	c=$(q put -m claimed jobs)
	q take jobs >/dev/null   # takes r, the older one
	printf 'x\n' >"$(qpath jobs)/failed/README"
	mkfifo "$(qpath jobs)/failed/1764491333.123456.1_1.h,a=5"
	done_before=$(ls "$(qpath jobs)/done")
	cur_before=$(ls "$(qpath jobs)/cur")
	run --separate-stderr -0 timeout 10 q retry jobs -a
	assert_output ""
	assert_equal "$stderr" "q retry: jobs: 2 messages back in new/"
	assert_equal "$(names jobs new)" "$a,a=1,b=1
$b,p=3,a=1,b=1
$c"
	assert_equal "$(names jobs failed)" "1764491333.123456.1_1.h,a=5
README"
	assert_equal "$(ls "$(qpath jobs)/done")" "$done_before"
	assert_equal "$(ls "$(qpath jobs)/cur")" "$cur_before"
}

@test "retry -a may come before the queue, and --all is its long form" {
	a=$(failed -m a)
	q retry -a jobs
	assert_equal "$(names jobs new)" "$a,a=1,b=1"
	b=$(failed -m b)
	q retry jobs --all
	assert_equal "$(count jobs new)" 2
	assert_equal "$(count jobs failed)" 0
}

@test "retry -a with nothing failed succeeds and changes nothing" {
	q put -m x jobs >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -0 q retry jobs -a
	assert_output ""
	assert_equal "$stderr" "q retry: jobs: 0 messages back in new/"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "retry of a message that is not in failed/ is 66 and changes nothing" {
	d=$(acked)
	n=$(q put -m new jobs)
	before=$(snapshot jobs)
	run --separate-stderr -66 q retry jobs "$d"
	assert_output ""
	assert_equal "$stderr" "q retry: jobs: $d: not in failed/"
	run --separate-stderr -66 q retry jobs "$n"
	assert_equal "$stderr" "q retry: jobs: $n: not in failed/"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "retry of an unknown ID is 66" {
	failed -m x >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -66 q retry jobs 1764491333.123456.1_1.elsewhere
	assert_equal "$stderr" "q retry: jobs: 1764491333.123456.1_1.elsewhere: no such message"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "retry with neither IDs nor -a is 64 and changes nothing" {
	failed -m x >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -64 q retry jobs
	assert_output ""
	assert_equal "$stderr" "q retry: missing id, or -a for every message
usage: q retry queue [id ... | -a]"
	run --separate-stderr -64 q retry
	assert_equal "$stderr" "q retry: missing queue
usage: q retry queue [id ... | -a]"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "retry with both IDs and -a is 64 and changes nothing" {
	id=$(failed -m x)
	before=$(snapshot jobs)
	run --separate-stderr -64 q retry -a jobs "$id"
	assert_equal "$stderr" "q retry: -a and IDs exclude each other
usage: q retry queue [id ... | -a]"
	run --separate-stderr -64 q retry jobs "$id" -a
	assert_equal "$stderr" "q retry: -a and IDs exclude each other
usage: q retry queue [id ... | -a]"
	run --separate-stderr -64 q retry jobs -a "$id"
	assert_equal "$stderr" "q retry: -a and IDs exclude each other
usage: q retry queue [id ... | -a]"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "retry of a malformed ID is 65 and retries nothing" {
	id=$(failed -m x)
	before=$(snapshot jobs)
	run --separate-stderr -65 q retry jobs ../x
	assert_output ""
	assert_equal "$stderr" "q retry: jobs: ../x: malformed ID"
	run --separate-stderr -65 q retry jobs "$id" ../x
	assert_equal "$stderr" "q retry: jobs: ../x: malformed ID"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "retry in a missing queue is 66" {
	failed -m x >/dev/null
	run --separate-stderr -66 q retry nope 1764491333.123456.1_1.h
	assert_equal "$stderr" "q retry: nope: no such queue"
	run --separate-stderr -66 q retry nope -a
	assert_output ""
	assert_equal "$stderr" "q retry: nope: no such queue"
	assert_not_exist "$QDIR/nope"
}
