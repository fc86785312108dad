#!/usr/bin/env bats
# q replay: done/ -> new/, to process again.

load helper

# Put a message (extra put options in "$@") and ack it; print its ID.
acked() {
	local id
	id=$(q put "$@" jobs)
	q ack jobs "$(q take jobs)"
	printf '%s\n' "$id"
}

# Put a message and fail it; print its ID.
failed() {
	local id
	id=$(q put -m failed jobs)
	q fail jobs "$(q take jobs)"
	printf '%s\n' "$id"
}

# Wait until the clock has passed the second $1 by a little.
after() {
	while [ "$(date +%s)" -le "$1" ]; do
		sleep 0.1
	done
	sleep 0.1
}

@test "replay moves an acknowledged message to new/ with a fresh attempt budget and a new token" {
	id=$(acked -p 2 -m body)
	assert_equal "$(names jobs done)" "$id,p=2,a=1"
	run --separate-stderr -0 q replay jobs "$id"
	assert_output ""
	assert_equal "$stderr" "q replay: jobs: 1 message back in new/"
	assert_equal "$(names jobs new)" "$id,p=2,a=1,b=1"
	assert_equal "$(count jobs done)" 0
	assert_equal "$(q cat jobs "$id")" body
	run -0 q take jobs
	assert_output "$id,a=2"
}

@test "replay by token, by name and by path" {
	a=$(acked -m a)
	b=$(acked -m b)
	c=$(acked -m c)
	q replay jobs "$a,a=1"
	q replay jobs "$b,a=1"
	q replay jobs "$(qpath jobs)/done/$c,a=1"
	assert_equal "$(names jobs new)" "$a,a=1,b=1
$b,a=1,b=1
$c,a=1,b=1"
	assert_equal "$(count jobs done)" 0
}

@test "replay -s 1h replays what was acknowledged within the hour, and only done/" {
	a=$(acked -m a)
	b=$(acked -m b)
	f=$(failed)
	c=$(q put -m claimed jobs)
	t=$(q take jobs)
	before_failed=$(names jobs failed)
	run --separate-stderr -0 q replay -s 1h jobs
	assert_output ""
	assert_equal "$stderr" "q replay: jobs: 2 messages back in new/"
	assert_equal "$(names jobs new)" "$a,a=1,b=1
$b,a=1,b=1"
	assert_equal "$(count jobs done)" 0
	assert_equal "$(names jobs failed)" "$before_failed"
	assert_equal "$(count jobs cur)" 1
}

@test "replay -s leaves older acknowledgements alone" {
	a=$(acked -m a)
	b=$(acked -m b)
	before=$(snapshot jobs)
	# acknowledged before this time: nothing to replay
	run --separate-stderr -0 q replay -s "@$(($(date +%s) + 3600))" jobs
	assert_equal "$(snapshot jobs)" "$before"
	# since long ago: everything
	run --separate-stderr -0 q replay -s @1 jobs
	assert_equal "$(names jobs new)" "$a,a=1,b=1
$b,a=1,b=1"
}

@test "two hours later, replay -s 1h finds nothing to replay" {
	require_faketime
	acked -m a >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -0 faketime -f +2h q replay -s 1h jobs
	assert_equal "$(snapshot jobs)" "$before"
	run --separate-stderr -0 faketime -f +2h q replay -s 3h jobs
	assert_equal "$(count jobs new)" 1
}

@test "replay -s @TIME splits at the time of the acknowledgement" {
	old=$(acked -m old)
	t=$(stat -c %Z "$(qpath jobs)/done/$old,a=1")
	after "$t"
	new=$(acked -m new)
	run --separate-stderr -0 q replay -s "@$((t + 1))" jobs
	assert_equal "$(names jobs new)" "$new,a=1,b=1"
	assert_equal "$(names jobs done)" "$old,a=1"
}

@test "replay -s never moves a foreign file" {
	a=$(acked -m a)
	printf 'x\n' >"$(qpath jobs)/done/README"
	mkfifo "$(qpath jobs)/done/1764491333.123456.1_1.h,a=1"
	run --separate-stderr -0 timeout 10 q replay -s 1h jobs
	assert_equal "$(names jobs new)" "$a,a=1,b=1"
	assert_equal "$(names jobs done)" "1764491333.123456.1_1.h,a=1
README"
}

@test "replay of a message that is not in done/ is 66 and changes nothing" {
	f=$(failed)
	n=$(q put -m new jobs)
	before=$(snapshot jobs)
	run --separate-stderr -66 q replay jobs "$f"
	assert_output ""
	assert_equal "$stderr" "q replay: jobs: $f: not in done/"
	run --separate-stderr -66 q replay jobs "$n"
	assert_equal "$stderr" "q replay: jobs: $n: not in done/"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "replay of an unknown ID is 66" {
	acked -m x >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -66 q replay jobs 1764491333.123456.1_1.elsewhere
	assert_equal "$stderr" "q replay: jobs: 1764491333.123456.1_1.elsewhere: no such message"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "replay of several IDs replays each; the first failure decides" {
	a=$(acked -m a)
	b=$(acked -m b)
	run --separate-stderr -66 q replay jobs "$a" 1764491333.123456.1_1.h "$b"
	assert_equal "$stderr" "q replay: jobs: 1764491333.123456.1_1.h: no such message
q replay: jobs: 2 messages back in new/"
	assert_equal "$(names jobs new)" "$a,a=1,b=1
$b,a=1,b=1"
}

@test "replay with neither IDs nor -s is 64 and changes nothing" {
	id=$(acked -m x)
	before=$(snapshot jobs)
	run --separate-stderr -64 q replay jobs
	assert_output ""
	assert_equal "$stderr" "q replay: missing id, or -s for those acked since
usage: q replay [-s since] queue [id ...]"
	run --separate-stderr -64 q replay -s 1h jobs "$id"
	assert_equal "$stderr" "q replay: -s and IDs exclude each other
usage: q replay [-s since] queue [id ...]"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "replay -s with a bad time is 65 and changes nothing" {
	acked -m x >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -65 q replay -s 1x jobs
	assert_equal "$stderr" "q replay: invalid time: 1x"
	run --separate-stderr -65 q replay -s @soon jobs
	assert_equal "$stderr" "q replay: invalid time: @soon"
	run --separate-stderr -65 q replay -s @-5 jobs
	assert_equal "$stderr" "q replay: invalid time: @-5"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "replay of a malformed ID is 65 and replays nothing" {
	id=$(acked -m x)
	before=$(snapshot jobs)
	run --separate-stderr -65 q replay jobs ../x
	assert_output ""
	assert_equal "$stderr" "q replay: jobs: ../x: malformed ID"
	run --separate-stderr -65 q replay jobs "$id" ../x
	assert_equal "$(snapshot jobs)" "$before"
}

@test "replay in a missing queue is 66" {
	run --separate-stderr -66 q replay nope 1764491333.123456.1_1.h
	assert_equal "$stderr" "q replay: nope: no such queue"
	run --separate-stderr -66 q replay -s 1h nope
	assert_output ""
	assert_equal "$stderr" "q replay: nope: no such queue"
	assert_not_exist "$QDIR/nope"
}
