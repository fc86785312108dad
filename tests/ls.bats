#!/usr/bin/env bats
# q ls: one line (or record) per file in new/, cur/, done/ and failed/,
# each state in ID order or another; without a queue, one per queue.

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
	assert_equal "${#lines[@]}" 3
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
	assert_equal "${#lines[@]}" 5
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
	assert_equal "$stderr" "q ls: -l, -0 and --json exclude each other
usage: q ls [-r] [-S key] [-s state] [-l | -0 | --json] [queue]"
	run --separate-stderr -64 q ls -0 -l jobs
	run --separate-stderr -64 q ls jobs jobs
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
	assert_equal "${#lines[@]}" 2
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

# Messages planted with the enqueue times and sizes given as SEC:SIZE,
# each in state $1 of queue jobs; prints their names in that order.
plant() {
	local st=$1 spec i=0
	shift
	mkdir -p "$(qpath jobs)"
	[ -d "$(qpath jobs)/new" ] || q put -m x jobs >/dev/null
	for spec; do
		i=$((i + 1))
		name="${spec%%:*}.000000.1_$i.h"
		[ "$st" = cur ] && name="$name,a=1,l=$(($(date +%s) + 3600))"
		[ "$st" = failed ] && name="$name,a=1"
		head -c "${spec##*:}" /dev/zero >"$(qpath jobs)/$st/$name"
		printf '%s\n' "$name"
	done
}

# The first column of each line of the output of q ls $@ (or its stdin).
ids() {
	q ls "$@" | awk '{ print $1 }'
}

@test "ls lists each state in ID order, new/ then cur/, done/, failed/" {
	q put -m x jobs >/dev/null
	q rm jobs "$(names jobs new)"
	plant failed 1700000009:1 1700000001:1 >/dev/null
	plant new 1700000005:1 1700000002:1 1700000007:1 >/dev/null
	plant cur 1700000008:1 1700000003:1 >/dev/null
	run -0 ids jobs
	assert_output "$(printf '%s\n' 1700000002.000000.1_2.h \
		1700000005.000000.1_1.h 1700000007.000000.1_3.h \
		1700000003.000000.1_2.h 1700000008.000000.1_1.h \
		1700000001.000000.1_2.h 1700000009.000000.1_1.h)"
	run -0 ids --sort=id jobs
	assert_equal "${lines[0]}" 1700000002.000000.1_2.h
}

@test "ls -S age lists the youngest first, -S size the smallest, -r reverses" {
	q put -m x jobs >/dev/null
	q rm jobs "$(names jobs new)"
	plant new 1700000005:30 1700000002:10 1700000007:20 1700000001:20 \
		>/dev/null
	run -0 ids -S age jobs
	assert_output "$(printf '%s\n' 1700000007.000000.1_3.h \
		1700000005.000000.1_1.h 1700000002.000000.1_2.h \
		1700000001.000000.1_4.h)"
	run -0 ids -r -S age jobs
	assert_output "$(printf '%s\n' 1700000001.000000.1_4.h \
		1700000002.000000.1_2.h 1700000005.000000.1_1.h \
		1700000007.000000.1_3.h)"
	run -0 ids -r jobs
	assert_output "$(q ls -S age jobs | awk '{ print $1 }')"
	# by size, then by ID
	run -0 ids --sort=size jobs
	assert_output "$(printf '%s\n' 1700000002.000000.1_2.h \
		1700000001.000000.1_4.h 1700000007.000000.1_3.h \
		1700000005.000000.1_1.h)"
	run -0 ids --reverse -S size jobs
	assert_output "$(printf '%s\n' 1700000005.000000.1_1.h \
		1700000007.000000.1_3.h 1700000001.000000.1_4.h \
		1700000002.000000.1_2.h)"
}

@test "ls puts the foreign files of a state after its messages, by name" {
	q put -m x jobs >/dev/null
	q rm jobs "$(names jobs new)"
	plant new 1700000005:1 1700000002:1 >/dev/null
	dir=$(qpath jobs)/new
	printf 'x' >"$dir/zz"
	printf 'x' >"$dir/README"
	printf 'x' >"$dir/1600000000.000000.1_1.h,l=1"
	run -0 ids jobs
	assert_output "$(printf '%s\n' 1700000002.000000.1_2.h \
		1700000005.000000.1_1.h 1600000000.000000.1_1.h,l=1 README zz)"
	run -0 ids -S size -r jobs
	assert_output "$(printf '%s\n' 1700000005.000000.1_1.h \
		1700000002.000000.1_2.h zz README 1600000000.000000.1_1.h,l=1)"
}

@test "ls -S none lists the same entries unsorted; -r needs an order" {
	seq 50 | q put -l jobs >/dev/null
	q take jobs >/dev/null
	run -0 ids -S none jobs
	assert_equal "${#lines[@]}" 50
	assert_equal "$(printf '%s\n' "${lines[@]}" | LC_ALL=C sort)" \
		"$(q ls jobs | awk '{ print $1 }' | LC_ALL=C sort)"
	run --separate-stderr -64 q ls -r -S none jobs
	assert_output ""
	assert_equal "$stderr" "q ls: -r with -S none: no order to reverse
usage: q ls [-r] [-S key] [-s state] [-l | -0 | --json] [queue]"
}

@test "ls -S with an unknown key is 64 and names the keys" {
	q put -m x jobs >/dev/null
	run --separate-stderr -64 q ls -S name jobs
	assert_output ""
	assert_equal "$stderr" "q ls: invalid sort key: name (id, age, size or none)"
}

@test "ls -l starts with a header line; -0, --json and plain ls have none" {
	putn jobs 2
	run --separate-stderr -0 q ls -l jobs
	assert_equal "${#lines[@]}" 3
	assert_line --index 0 --regexp '^ID +STATE +PRI +ATT +AGE +WHEN +SIZE +PATH$'
	run --separate-stderr -0 q ls jobs
	assert_equal "${#lines[@]}" 2
	refute_line --partial STATE
	run -0 jq -c .state < <(q ls --json jobs)
	assert_output "$(printf '"new"\n"new"')"
	run -0 bash -c 'q ls -0 jobs | tr "\0" "\n"'
	assert_equal "${#lines[@]}" 2
	refute_line --partial STATE
	# an empty queue: the header alone
	q purge -s new jobs 2>/dev/null
	run --separate-stderr -0 q ls -l jobs
	assert_output --regexp '^ID +STATE'
	assert_equal "${#lines[@]}" 1
}

@test "ls -0 separates fields by tabs and puts the raw name last" {
	mixed
	dir=$(qpath jobs)
	printf 'xy' >"$dir/done/a"$'\t'"b"$'\n'"c"
	n_name=$(fullname jobs new "$n")
	c_name=$(fullname jobs cur "$c")
	l_name=$(fullname jobs new "$l")
	q ls -0 jobs >"$BATS_TEST_TMPDIR/out"
	assert_equal "$(tr -cd '\0' <"$BATS_TEST_TMPDIR/out" | wc -c)" 6
	recs=()
	while IFS=$'\t' read -r -d '' st prio tries put due size name; do
		recs+=("$st|$prio|$tries|$put|$due|$size|$name")
	done <"$BATS_TEST_TMPDIR/out"
	assert_equal "${#recs[@]}" 6
	run printf '%s\n' "${recs[@]}"
	assert_line --regexp "^new\|5\|0\|[0-9]{10}\|-\|6\|$(re "$n_name")\$"
	assert_line --regexp "^new\|2\|0\|[0-9]{10}\|[0-9]{10}\|6\|$(re "$l_name")\$"
	assert_line --regexp "^cur\|1\|1\|[0-9]{10}\|[0-9]{10}\|8\|$(re "$c_name")\$"
	assert_line --regexp "^done\|5\|1\|[0-9]{10}\|-\|5\|$(re "$d"),a=1\$"
	assert_line --regexp "^failed\|5\|1\|[0-9]{10}\|-\|7\|$(re "$f"),a=1\$"
	# the foreign name arrives whole, tab and newline included
	[ "${recs[4]}" = "done|-|-|-|-|2|a"$'\t'"b"$'\n'"c" ] ||
		fail "foreign record: ${recs[4]}"
	# the lease and due times are the ones in the names
	[[ ${recs[2]} == *"|${c_name##*,l=}|8|"* ]] || fail "lease: ${recs[2]}"
	[[ ${recs[1]} == *"|${l_name##*,d=}|6|"* ]] || fail "due: ${recs[1]}"
}

# Queues under $QDIR: jobs (2 ready, 1 claimed, 1 failed, 1 delayed),
# mail (empty, paused), and things that are no queue.
queues() {
	putn jobs 4
	q put -d 1h -m later jobs >/dev/null
	q take jobs >/dev/null
	q fail jobs "$(q take jobs)"
	q put -m x mail >/dev/null
	q purge -s new mail 2>/dev/null
	q pause mail
	mkdir "$QDIR/not-a-queue" "$QDIR/.hidden"
	printf 'x\n' >"$QDIR/stray-file"
}

@test "ls without a queue lists the queues: ready, claimed, failed, oldest ready" {
	queues
	run --separate-stderr -0 q ls
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 2
	assert_line --index 0 --regexp '^jobs +2 +1 +1 +[0-9]+s$'
	assert_line --index 1 --regexp '^mail +0 +0 +0 +- paused$'
}

@test "ls -l without a queue adds a header and each queue's path" {
	queues
	run --separate-stderr -0 q ls -l
	assert_equal "${#lines[@]}" 3
	assert_line --index 0 --regexp '^QUEUE +READY +CLAIMED +FAILED +OLDEST +PATH$'
	assert_line --index 1 --regexp "^jobs +2 +1 +1 +[0-9]+s $(re "$(realpath "$QDIR/jobs")")\$"
	assert_line --index 2 --regexp "^mail +0 +0 +0 +- $(re "$(realpath "$QDIR/mail")") paused\$"
}

@test "ls --json without a queue prints one JSON array of the queues" {
	queues
	q ls --json >"$BATS_TEST_TMPDIR/out"
	run -0 jq -c 'map([.queue, .ready, .delayed, .claimed, .failed,
	    .done, .paused, (.oldest_ready | type)])' "$BATS_TEST_TMPDIR/out"
	assert_output '[["jobs",2,1,1,1,0,false,"number"],["mail",0,0,0,0,0,true,"null"]]'
	run -0 jq -r '.[0].path' "$BATS_TEST_TMPDIR/out"
	assert_output "$(realpath "$QDIR/jobs")"
	rm -r "$QDIR"/*
	run --separate-stderr -0 q ls --json
	assert_output "[]"
}

@test "ls -0 without a queue: tab-separated counts, the raw name last" {
	queues
	q put -m x "$QDIR/we"$'\t'"ird" >/dev/null
	q ls -0 >"$BATS_TEST_TMPDIR/out"
	recs=()
	while IFS=$'\t' read -r -d '' ready claimed failed oldest name; do
		recs+=("$ready|$claimed|$failed|$oldest|$name")
	done <"$BATS_TEST_TMPDIR/out"
	assert_equal "${#recs[@]}" 3
	[[ ${recs[0]} =~ ^2\|1\|1\|[0-9]+\|jobs$ ]] || fail "jobs: ${recs[0]}"
	assert_equal "${recs[1]}" "0|0|0|-|mail"
	# the age is 0, or 1 if the second turned since the put
	[[ ${recs[2]} == "1|0|0|"[01]"|we"$'\t'"ird" ]] ||
		fail "we<TAB>ird: ${recs[2]}"
}

@test "ls without a queue and an empty QDIR prints nothing" {
	mkdir -p "$QDIR"
	run --separate-stderr -0 q ls
	assert_output ""
	assert_equal "$stderr" ""
}

@test "ls without a queue and a missing QDIR is 66 and names it" {
	run --separate-stderr -66 q ls
	assert_output ""
	assert_equal "$stderr" "q ls: $QDIR: no queue directory"
	assert_not_exist "$QDIR"
	run --separate-stderr -66 q ls --json
	assert_output ""
}

@test "ls -s, -S or -r without a queue is 64" {
	queues
	run --separate-stderr -64 q ls -s new
	assert_output ""
	run --separate-stderr -64 q ls -S size
	run --separate-stderr -64 q ls -r
}
