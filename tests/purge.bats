#!/usr/bin/env bats
# q purge: delete done/ (default), failed/ or new/ messages, optionally only
# old ones; never cur/.

load helper

# A queue with two messages in each of done/ and failed/, one ready and one
# claimed.  Sets d1 d2 f1 f2 r c.
filled() {
	d1=$(q put -m d1 jobs)
	q ack jobs "$(q take jobs)"
	d2=$(q put -m d2 jobs)
	q ack jobs "$(q take jobs)"
	f1=$(q put -m f1 jobs)
	q fail jobs "$(q take jobs)"
	f2=$(q put -m f2 jobs)
	q fail jobs "$(q take jobs)"
	c=$(q put -p 1 -m claimed jobs)
	q take jobs >/dev/null
	r=$(q put -m ready jobs)
}

# snapshot of the states other than $1
others() {
	snapshot jobs | grep -v "^\./$1/"
}

@test "purge deletes every done/ message and nothing else" {
	filled
	before=$(others done)
	run --separate-stderr -0 q purge jobs
	assert_output ""
	assert_equal "$stderr" "q purge: jobs: 2 messages deleted from done/"
	assert_equal "$(count jobs done)" 0
	assert_equal "$(others done)" "$before"
	assert_equal "$(count jobs failed)" 2
	assert_equal "$(names jobs new)" "$r"
	assert_equal "$(count jobs cur)" 1
}

@test "purge -s failed deletes every failed/ message and nothing else" {
	filled
	before=$(others failed)
	run --separate-stderr -0 q purge -s failed jobs
	assert_output ""
	assert_equal "$(count jobs failed)" 0
	assert_equal "$(others failed)" "$before"
	assert_equal "$(count jobs done)" 2
	run --separate-stderr -0 q purge --state=done jobs
	assert_equal "$(count jobs done)" 0
}

@test "purge -o 1h keeps messages that entered their state within the hour" {
	filled
	before=$(snapshot jobs)
	run --separate-stderr -0 q purge -o 1h jobs
	assert_equal "$(snapshot jobs)" "$before"
	run --separate-stderr -0 q purge -s failed -o 1h jobs
	assert_equal "$(snapshot jobs)" "$before"
	# the age is not counted from the enqueue time in the name
	now=$(date +%s)
	old="$((now - 86400)).000000.1_1.h,a=1"
	printf 'old\n' >"$(qpath jobs)/done/$old"
	run --separate-stderr -0 q purge -o 1h jobs
	assert_file_exists "$(qpath jobs)/done/$old"
}

@test "purge -o deletes messages older than the age, two hours later" {
	require_faketime
	filled
	run --separate-stderr -0 faketime -f +30m q purge -o 1h jobs
	assert_equal "$(count jobs done)" 2
	run --separate-stderr -0 faketime -f +2h q purge -o 1h jobs
	assert_equal "$(count jobs done)" 0
	assert_equal "$(count jobs failed)" 2
	run --separate-stderr -0 faketime -f +2h q purge -s failed -o 1h jobs
	assert_equal "$(count jobs failed)" 0
	assert_equal "$(names jobs new)" "$r"
	assert_equal "$(count jobs cur)" 1
}

@test "purge never deletes a foreign file" {
	filled
	dir=$(qpath jobs)
	printf 'x\n' >"$dir/done/README"
	mkfifo "$dir/done/1764491333.123456.1_1.h,a=1"
	ln -s /etc/passwd "$dir/failed/1764491333.123456.1_2.h,a=1"
	mkdir "$dir/failed/1764491333.123456.1_3.h"
	run --separate-stderr -0 timeout 10 q purge jobs
	run --separate-stderr -0 timeout 10 q purge -s failed jobs
	assert_equal "$(names jobs done)" "1764491333.123456.1_1.h,a=1
README"
	assert_equal "$(names jobs failed)" "1764491333.123456.1_2.h,a=1
1764491333.123456.1_3.h"
	assert_file_exists /etc/passwd
}

@test "purge of an empty state succeeds" {
	q put -m x jobs >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -0 q purge jobs
	assert_output ""
	assert_equal "$(snapshot jobs)" "$before"
}

@test "purge -s cur, or an unknown state, is 64 and deletes nothing" {
	filled
	before=$(snapshot jobs)
	run --separate-stderr -64 q purge -s cur jobs
	assert_output ""
	assert_equal "$stderr" "q purge: invalid state: cur (new, done or failed)"
	run --separate-stderr -64 q purge --state=cur jobs
	assert_equal "$stderr" "q purge: invalid state: cur (new, done or failed)"
	run --separate-stderr -64 q purge -s x jobs
	assert_equal "$stderr" "q purge: invalid state: x"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "purge -o with a bad age is 65 and deletes nothing" {
	filled
	before=$(snapshot jobs)
	run --separate-stderr -65 q purge -o 1x jobs
	assert_output ""
	assert_equal "$stderr" "q purge: invalid age: 1x"
	run --separate-stderr -65 q purge -o -1 jobs
	assert_equal "$stderr" "q purge: invalid age: -1"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "purge takes exactly one queue" {
	filled
	before=$(snapshot jobs)
	run --separate-stderr -64 q purge jobs jobs
	assert_equal "$stderr" "q purge: unexpected operand: jobs
usage: q purge [-s state] [-o age] queue"
	run --separate-stderr -64 q purge
	assert_equal "$stderr" "q purge: missing queue
usage: q purge [-s state] [-o age] queue"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "purge of a missing queue is 66" {
	run --separate-stderr -66 q purge nope
	assert_output ""
	assert_equal "$stderr" "q purge: nope: no such queue"
	run --separate-stderr -66 q purge -s failed -o 1h nope
	assert_equal "$stderr" "q purge: nope: no such queue"
	assert_not_exist "$QDIR/nope"
}

@test "purge -s new deletes ready and delayed messages, never a claim" {
	filled
	q put -d 1h -m later jobs >/dev/null
	before=$(others new)
	run --separate-stderr -0 q purge -s new jobs
	assert_output ""
	assert_equal "$stderr" "q purge: jobs: 2 messages deleted from new/"
	assert_equal "$(count jobs new)" 0
	assert_equal "$(others new)" "$before"
	assert_equal "$(count jobs cur)" 1
	assert_equal "$(count jobs done)" 2
	assert_equal "$(count jobs failed)" 2
	# the claim is still worked as usual
	run -0 q ack jobs "$c"
}

@test "purge -s new -o 1h keeps messages put within the hour" {
	filled
	before=$(snapshot jobs)
	run --separate-stderr -0 q purge -s new -o 1h jobs
	assert_equal "$stderr" "q purge: jobs: 0 messages deleted from new/"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "purge -s new -o deletes the messages waiting longer than the age" {
	require_faketime
	filled
	run --separate-stderr -0 faketime -f +30m q purge -s new -o 1h jobs
	assert_equal "$(names jobs new)" "$r"
	run --separate-stderr -0 faketime -f +2h q purge -s new -o 1h jobs
	assert_equal "$(count jobs new)" 0
	assert_equal "$(count jobs cur)" 1
}

@test "purge -s new leaves foreign files in new/ alone" {
	filled
	dir=$(qpath jobs)
	printf 'x\n' >"$dir/new/README"
	mkfifo "$dir/new/1764491333.123456.1_1.h"
	run --separate-stderr -0 timeout 10 q purge -s new jobs
	assert_equal "$(names jobs new)" "1764491333.123456.1_1.h
README"
}

@test "a message claimed while purge -s new runs stays in cur/" {
	seq 400 | q put -l jobs >/dev/null
	# claim while the purge deletes; every claim that succeeded must hold
	(for ((i = 0; i < 200; i++)); do
		q take -l 1h jobs 2>/dev/null || break
	done >"$BATS_TEST_TMPDIR/toks") 3>&- &
	taker=$!
	run --separate-stderr -0 q purge -s new jobs
	wait "$taker" || :
	claimed=$(wc -l <"$BATS_TEST_TMPDIR/toks")
	assert_equal "$(count jobs cur)" "$claimed"
	while read -r tok; do
		run -0 q cat jobs "$tok"
	done <"$BATS_TEST_TMPDIR/toks"
	# nothing was lost but what the purge says it deleted
	deleted=$(sed -n 's/^q purge: jobs: \([0-9]*\) messages* deleted from new\/$/\1/p' <<<"$stderr")
	assert_equal "$((deleted + claimed + $(count jobs new)))" 400
}
