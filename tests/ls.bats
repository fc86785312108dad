#!/usr/bin/env bats
# q ls: one line (or record) per file in new/, cur/, done/ and failed/.

load helper

# An ID as an extended regular expression (IDs hold no other special byte).
re() {
	printf '%s' "${1//./\\.}"
}

# The full name of the message with ID $3 in state $2 of queue $1.
fullname() {
	ls -1 "$QDIR/$1/$2" | grep -F "$3"
}

# A queue with one message in every state (and a delayed one):
# d done, f failed, c claimed with a 90-minute lease, n ready, l delayed.
mixed() {
	d=$(q put -m done jobs)
	q ack jobs "$(q take jobs)"
	f=$(q put -m failed jobs)
	q fail jobs "$(q take jobs)"
	c=$(q put -p 1 -m claimed jobs)
	q take -l 90m jobs >/dev/null
	n=$(q put -m ready jobs)
	l=$(q put -p 2 -d 90m -m later jobs)
}

@test "ls lists every message with state, priority, attempts, due or lease, size" {
	mixed
	before=$(snapshot jobs)
	run --separate-stderr -0 q ls jobs
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 5
	assert_line --regexp "^$(re "$n") +new +p=5 a=0 +[0-9]+s +- +6\$"
	assert_line --regexp "^$(re "$l") +new +p=2 a=0 +[0-9]+s +\+1h +6\$"
	assert_line --regexp "^$(re "$c") +cur +p=1 a=1 +[0-9]+s +1h +8\$"
	assert_line --regexp "^$(re "$d") +done +p=5 a=1 +[0-9]+s +- +5\$"
	assert_line --regexp "^$(re "$f") +failed +p=5 a=1 +[0-9]+s +- +7\$"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "ls shows the age since enqueue in the largest whole unit" {
	q put -m x jobs >/dev/null
	now=$(date +%s)
	printf 'two\n' >"$(qpath jobs)/new/$((now - 7200)).000000.1_1.h"
	printf 'three\n' >"$(qpath jobs)/done/$((now - 3 * 86400)).000000.1_2.h,a=2"
	run --separate-stderr -0 q ls jobs
	assert_line --regexp "^$((now - 7200))\.000000\.1_1\.h +new +p=5 a=0 +2h +- +4\$"
	assert_line --regexp "^$((now - 3 * 86400))\.000000\.1_2\.h +done +p=5 a=2 +3d +- +6\$"
}

@test "ls shows a lapsed or forged lease as expired" {
	putn jobs 2
	t1=$(q take jobs)
	t2=$(q take jobs)
	cur=$(qpath jobs)/cur
	n1=$(fullname jobs cur "${t1%,a=*}")
	n2=$(fullname jobs cur "${t2%,a=*}")
	mv "$cur/$n1" "$cur/${n1%,l=*},l=1000000000"
	mv "$cur/$n2" "$cur/${n2%,l=*},l=99999999999"
	run --separate-stderr -0 q ls jobs
	assert_line --regexp "^$(re "${t1%,a=*}") +cur +p=5 a=1 +[0-9]+s +expired +6\$"
	assert_line --regexp "^$(re "${t2%,a=*}") +cur +p=5 a=1 +[0-9]+s +expired +6\$"
}

@test "ls -s shows only the messages in that state" {
	mixed
	for st in new cur done failed; do
		run --separate-stderr -0 q ls -s "$st" jobs
		assert_equal "$stderr" ""
		assert_equal "${#lines[@]}" "$(count jobs "$st")"
		for line in "${lines[@]}"; do
			[[ $line =~ ^[^\ ]+\ +$st\  ]] ||
				fail "ls -s $st printed: $line"
		done
	done
	run --separate-stderr -0 q ls -s failed jobs
	assert_output --regexp "^$(re "$f") +failed "
	run --separate-stderr -0 q ls --state=done jobs
	assert_output --regexp "^$(re "$d") +done "
}

@test "ls -s with an unknown state is 64 and names it" {
	mixed
	run --separate-stderr -64 q ls -s x jobs
	assert_output ""
	assert_equal "$stderr" "q ls: invalid state: x"
	run --separate-stderr -64 q ls -s tmp jobs
	assert_equal "$stderr" "q ls: invalid state: tmp"
}

@test "ls -l adds the worker and the path of each file" {
	q put -m one jobs >/dev/null
	t=$(q take jobs)
	n=$(q put -m two jobs)
	cur=$(qpath jobs)/cur
	c=$(fullname jobs cur "${t%,a=*}")
	mv "$cur/$c" "$cur/$c,w=4242@worker2"
	dir=$(realpath "$(qpath jobs)")
	run --separate-stderr -0 q ls -l jobs
	assert_equal "${#lines[@]}" 2
	assert_line --regexp "^$(re "${t%,a=*}") +cur +p=5 a=1 .* w=4242@worker2 $(re "$dir/cur/$c,w=4242@worker2")\$"
	assert_line --regexp "^$(re "$n") +new +p=5 a=0 .* $(re "$dir/new/$n")\$"
}

@test "ls flags foreign files and never opens them" {
	id=$(q put -m x jobs)
	dir=$(qpath jobs)
	fifo=1764491333.123456.1_1.h
	printf 'hi\n' >"$dir/new/README"
	mkfifo "$dir/new/$fifo"
	mkdir "$dir/done/1764491333.123456.1_2.h"
	ln -s /etc/passwd "$dir/failed/1764491333.123456.1_3.h,a=1"
	printf 'x' >"$dir/cur/1764491333.123456.1_4.h,a=1"   # no lease
	run --separate-stderr -0 timeout 10 q ls jobs
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 6
	assert_line --regexp "^$(re "$id") +new +p=5 a=0 "
	assert_line --regexp "^README +new +foreign 3\$"
	assert_line --regexp "^$(re "$fifo") +new +foreign 0\$"
	assert_line --regexp "^1764491333\.123456\.1_2\.h +done +foreign [0-9]+\$"
	assert_line --regexp "^1764491333\.123456\.1_3\.h,a=1 +failed +foreign 11\$"
	assert_line --regexp "^1764491333\.123456\.1_4\.h,a=1 +cur +foreign 1\$"
	run -0 timeout 10 q ls --json jobs
	run -0 timeout 10 q ls -0 jobs
	[ -p "$dir/new/$fifo" ]
	assert_file_exists "$dir/new/README"
}

@test "ls opens no file of the queue at all" {
	require_strace
	q put -m x jobs >/dev/null
	mkfifo "$(qpath jobs)/new/1764491333.123456.1_1.h"
	printf 'hi\n' >"$(qpath jobs)/new/README"
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=open,openat,openat2 \
		-o "$BATS_TEST_TMPDIR/trace" timeout 10 q ls jobs >/dev/null
	# the state directories are opened, no file in them
	run grep -E '"(README|[0-9]{10}\.[0-9]{6}\.)' "$BATS_TEST_TMPDIR/trace"
	assert_failure 1
	run grep -E '"new"' "$BATS_TEST_TMPDIR/trace"
	assert_success
}

@test "hostile names give exactly one escaped line each" {
	q put -m x jobs >/dev/null
	dir=$(qpath jobs)
	printf 'x' >"$dir/new/bad"$'\n'"name"
	printf 'yy' >"$dir/new/"$'\e[31mred'
	printf 'z' >"$dir/done/a"$'\t'"b"
	run --separate-stderr -0 q ls jobs
	assert_equal "${#lines[@]}" 4
	[[ $output != *$'\e'* ]] || fail "raw ESC in output"
	[[ $output != *$'\t'* ]] || fail "raw tab in output"
	assert_line --regexp '^bad\\nname +new +foreign 1$'
	assert_line --regexp '^a\\tb +done +foreign 1$'
	assert_line --regexp '^\\[^ ]*31mred +new +foreign 2$'
	run --separate-stderr -0 q ls -l jobs
	assert_equal "${#lines[@]}" 4
	[[ $output != *$'\e'* ]] || fail "raw ESC in output of -l"
	[[ $output != *$'\t'* ]] || fail "raw tab in output of -l"
}

@test "ls --json prints one JSON object per line with the message fields" {
	mixed
	dir=$(qpath jobs)
	printf 'x' >"$dir/new/bad"$'\n'"name"
	printf 'yy' >"$dir/new/"$'\e[31mred'
	printf 'z' >"$dir/done/a"$'\t'"b"
	q ls --json jobs >"$BATS_TEST_TMPDIR/out"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/out")" 8
	# every line on its own is one JSON object
	run -0 jq -R -c 'fromjson | type' "$BATS_TEST_TMPDIR/out"
	assert_equal "${#lines[@]}" 8
	for line in "${lines[@]}"; do
		assert_equal "$line" '"object"'
	done
	run -0 jq -R -c --arg id "$n" 'fromjson | select(.id == $id) |
	    [.state, .priority, .attempts, .size, .foreign, has("due")]' \
		"$BATS_TEST_TMPDIR/out"
	assert_output '["new",5,0,6,false,false]'
	run -0 jq -R -c --arg id "$l" 'fromjson | select(.id == $id) |
	    [.state, .priority, .attempts, .size, .foreign, .due > now]' \
		"$BATS_TEST_TMPDIR/out"
	assert_output '["new",2,0,6,false,true]'
	run -0 jq -R -c --arg id "$c" 'fromjson | select(.id == $id) |
	    [.state, .priority, .attempts, .size, .foreign, .lease > now]' \
		"$BATS_TEST_TMPDIR/out"
	assert_output '["cur",1,1,8,false,true]'
	run -0 jq -R -c --arg id "$d" 'fromjson | select(.id == $id) |
	    [.state, .priority, .attempts, .size, .foreign]' \
		"$BATS_TEST_TMPDIR/out"
	assert_output '["done",5,1,5,false]'
	run -0 jq -R -c --arg id "$f" 'fromjson | select(.id == $id) |
	    [.state, .priority, .attempts, .size, .foreign]' \
		"$BATS_TEST_TMPDIR/out"
	assert_output '["failed",5,1,7,false]'
	for name in "bad"$'\n'"name" $'\e[31mred' "a"$'\t'"b"; do
		run -0 jq -R -c --arg n "$name" 'fromjson | select(.name == $n) |
		    [.foreign, has("id"), .size]' "$BATS_TEST_TMPDIR/out"
		assert_output --regexp '^\[true,false,[12]\]$'
	done
}

@test "ls -0 ends every record with a NUL and prints no newline" {
	putn jobs 3
	q take jobs >/dev/null
	q ls -0 jobs >"$BATS_TEST_TMPDIR/out"
	assert_equal "$(tr -cd '\0' <"$BATS_TEST_TMPDIR/out" | wc -c)" 3
	assert_equal "$(tr -cd '\n' <"$BATS_TEST_TMPDIR/out" | wc -c)" 0
	assert_equal "$(od -An -tx1 "$BATS_TEST_TMPDIR/out" | tr -s ' \n' ' ' |
		sed 's/ *$//' | awk '{ print $NF }')" 00
	printf 'x' >"$(qpath jobs)/new/bad"$'\n'"name"
	q ls -0 jobs >"$BATS_TEST_TMPDIR/out"
	assert_equal "$(tr -cd '\0' <"$BATS_TEST_TMPDIR/out" | wc -c)" 4
}

@test "ls takes one output format only" {
	q put -m x jobs >/dev/null
	run --separate-stderr -64 q ls -l --json jobs
	assert_output ""
	assert_equal "$stderr" "usage: q ls [-s state] [-l] [-0] [--json] queue"
}

@test "ls of an empty queue prints nothing" {
	id=$(q put -m x jobs)
	q rm jobs "$id"
	run --separate-stderr -0 q ls jobs
	assert_output ""
	assert_equal "$stderr" ""
}

@test "ls of a missing queue is 66" {
	q put -m x jobs >/dev/null
	run --separate-stderr -66 q ls nope
	assert_output ""
	assert_equal "$stderr" "q ls: nope: no such queue"
	assert_not_exist "$QDIR/nope"
}

@test "ls -l shows a hostile queue path escaped, on one line" {
	queue="$BATS_TEST_TMPDIR/two"$'\n'"lines"$'\e[31m'"red"
	q put -m x "$queue" >/dev/null
	run --separate-stderr -0 q ls -l "$queue"
	assert_equal "${#lines[@]}" 1
	[[ $output != *$'\e'* ]] || fail "raw ESC in output of -l"
	assert_output --regexp '/two\\nlines.*31mred/new/[0-9]{10}\.'
}

# 500 messages, all claimed, their tokens in $BATS_TEST_TMPDIR/toks.
claim_500() {
	seq 500 | q put -l jobs >/dev/null
	for ((i = 0; i < 500; i++)); do
		q take -l 1h jobs
	done >"$BATS_TEST_TMPDIR/toks"
	assert_equal "$(count jobs cur)" 500
}

@test "ls and stat count each claim once while its lease is renewed" {
	claim_500
	# every claim renamed in cur/ again and again, as heartbeats do
	(while :; do
		xargs q touch -l 2h jobs <"$BATS_TEST_TMPDIR/toks" >/dev/null 2>&1
	done) 3>&- &
	churn=$!
	bad=()
	for ((i = 0; i < 20; i++)); do
		a=$(q ls jobs | cut -d, -f1 | LC_ALL=C sort -u | wc -l)
		b=$(q ls -s cur jobs | wc -l)
		c=$(q stat --json jobs | jq .cur.count)
		[ "$a $b $c" = "500 500 500" ] || bad+=("look $i: $a $b $c")
	done
	kill "$churn"
	wait "$churn" 2>/dev/null || :
	printf '%s\n' "${bad[@]}"
	assert_equal "${#bad[@]}" 0
}

@test "ls and stat count each message once while it moves between new/ and cur/" {
	claim_500
	# claims given back and taken again: messages move both ways
	(while :; do
		xargs q release jobs <"$BATS_TEST_TMPDIR/toks" >/dev/null 2>&1
		for ((k = 0; k < 500; k++)); do
			q take -l 1h jobs
		done >"$BATS_TEST_TMPDIR/toks" 2>/dev/null
	done) 3>&- &
	churn=$!
	bad=()
	for ((i = 0; i < 20; i++)); do
		a=$(q ls jobs | cut -d, -f1 | LC_ALL=C sort -u | wc -l)
		b=$(q ls jobs | wc -l)
		c=$(q stat --json jobs | jq '.new.count + .cur.count')
		[ "$a $b $c" = "500 500 500" ] || bad+=("look $i: $a $b $c")
	done
	kill "$churn"
	wait "$churn" 2>/dev/null || :
	printf '%s\n' "${bad[@]}"
	assert_equal "${#bad[@]}" 0
}
