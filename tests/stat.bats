#!/usr/bin/env bats
# q stat: counts, bytes and ages per queue, as text and as JSON.

load helper

# A queue "jobs" in a known state:
#   new     5 messages, 24 bytes: "fresh" (ready now), "later" (delayed 90m),
#           and three written by hand, enqueued 10m, 2h and 10d ago
#   cur     2 claims, 12 bytes, one of them with a lease long past
#   done    1, 6 bytes          failed  1, 6 bytes
#   tmp     1 file, 5 bytes     foreign 2 (new/README, done/notes)
known() {
	local dir t1 t2 t3 t4 c now
	putn jobs 4
	t1=$(q take jobs)
	t2=$(q take jobs)
	t3=$(q take jobs)
	t4=$(q take jobs)
	q ack jobs "$t1"
	q fail jobs "$t2"
	dir=$(qpath jobs)
	c=$(ls "$dir/cur" | grep -F "${t4%,a=*}")
	mv "$dir/cur/$c" "$dir/cur/${c%,l=*},l=1000000000"
	q put -m fresh jobs >/dev/null
	q put -d 90m -m later jobs >/dev/null
	now=$(date +%s)
	printf 'ten\n' >"$dir/new/$((now - 600)).000000.1_1.h"
	printf 'two\n' >"$dir/new/$((now - 7200)).000000.1_2.h"
	printf 'old\n' >"$dir/new/$((now - 864000)).000000.1_3.h"
	printf 'xxxx\n' >"$dir/tmp/1764491333.123456.1_9.h"
	printf 'hi\n' >"$dir/new/README"
	printf 'hi\n' >"$dir/done/notes"
}

@test "stat counts a known queue, as text" {
	known
	before=$(snapshot jobs)
	run --separate-stderr -0 q stat jobs
	assert_equal "$stderr" ""
	assert_output - <<'EOF'
jobs
  new               5      24B  1 delayed
  cur               2      12B  1 expired
  done              1       6B
  failed            1       6B
  tmp               1       5B
  foreign           2
  oldest ready: 10d
  ready by age: <1m 1 <5m 0 <15m 1 <1h 0 <4h 1 <1d 0 <7d 0 older 1
  file system: local; arrivals by inotify, dead workers by their lock
EOF
	assert_equal "$(snapshot jobs)" "$before"
}

@test "stat --json counts a known queue" {
	known
	q stat --json jobs >"$BATS_TEST_TMPDIR/out"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/out")" 1
	run -0 jq .new.count "$BATS_TEST_TMPDIR/out"
	assert_output 5
	run -0 jq -c '[.queue, .path]' "$BATS_TEST_TMPDIR/out"
	assert_output "[\"jobs\",\"$(realpath "$(qpath jobs)")\"]"
	run -0 jq -c '[.new, .cur, .done, .failed, .tmp]' "$BATS_TEST_TMPDIR/out"
	assert_output '[{"count":5,"bytes":24,"delayed":1},{"count":2,"bytes":12,"expired":1},{"count":1,"bytes":6},{"count":1,"bytes":6},{"count":1,"bytes":5}]'
	run -0 jq -c '[.foreign, .paused]' "$BATS_TEST_TMPDIR/out"
	assert_output '[2,false]'
	run -0 jq -c '.ready_by_age' "$BATS_TEST_TMPDIR/out"
	assert_output '{"1m":1,"5m":0,"15m":1,"1h":0,"4h":1,"1d":0,"7d":0,"older":1}'
	# the oldest ready message was enqueued 864000 s before the test
	run -0 jq -e '.oldest_ready >= 864000 and .oldest_ready < 864000 + 3600' \
		"$BATS_TEST_TMPDIR/out"
}

@test "stat after puts, takes, acks and fails" {
	putn jobs 5
	t1=$(q take jobs)
	t2=$(q take jobs)
	t3=$(q take jobs)
	q ack jobs "$t1"
	q ack jobs "$t2"
	q fail jobs "$t3"
	run -0 q stat --json jobs
	run -0 jq -c '[.new.count, .cur.count, .done.count, .failed.count,
	    .new.bytes, .done.bytes, .failed.bytes, .cur.expired, .foreign,
	    .ready_by_age["1m"]]' <<<"$output"
	assert_output '[2,0,2,1,12,12,6,0,0,2]'
	run -0 q stat jobs
	assert_line --regexp '^  new +2 +12B +0 delayed$'
	assert_line --regexp '^  cur +0 +0B +0 expired$'
	assert_line --regexp '^  done +2 +12B$'
	assert_line --regexp '^  failed +1 +6B$'
	assert_line --regexp '^  oldest ready: [0-9]+s$'
}

@test "stat of an empty queue, and of one with only delayed messages" {
	id=$(q put -m x jobs)
	q rm jobs "$id"
	run --separate-stderr -0 q stat jobs
	assert_line '  oldest ready: -'
	assert_line '  ready by age: <1m 0 <5m 0 <15m 0 <1h 0 <4h 0 <1d 0 <7d 0 older 0'
	run -0 q stat --json jobs
	run -0 jq -c '[.new.count, .oldest_ready]' <<<"$output"
	assert_output '[0,null]'
	q put -d 1h -m later jobs >/dev/null
	run -0 q stat jobs
	assert_line --regexp '^  new +1 +6B +1 delayed$'
	assert_line '  oldest ready: -'
	run -0 q stat --json jobs
	run -0 jq -c '[.new.count, .new.delayed, .oldest_ready, .ready_by_age["1m"]]' <<<"$output"
	assert_output '[1,1,null,0]'
}

@test "stat shows a paused queue" {
	q put -m x jobs >/dev/null
	q pause jobs
	run --separate-stderr -0 q stat jobs
	assert_line --index 0 'jobs (paused)'
	run -0 q stat --json jobs
	run -0 jq .paused <<<"$output"
	assert_output true
	q resume jobs
	run -0 q stat jobs
	assert_line --index 0 'jobs'
}

@test "stat counts a FIFO with a valid name as foreign and does not hang" {
	q put -m x jobs >/dev/null
	mkfifo "$(qpath jobs)/new/1764491333.123456.1_1.h"
	mkfifo "$(qpath jobs)/cur/1764491333.123456.1_2.h,a=1,l=9999999999"
	run --separate-stderr -0 timeout 10 q stat --json jobs
	run -0 jq -c '[.new.count, .cur.count, .foreign]' <<<"$output"
	assert_output '[1,0,2]'
	[ -p "$(qpath jobs)/new/1764491333.123456.1_1.h" ]
}

@test "stat without a queue reports every queue under QDIR" {
	q put -m a jobs >/dev/null
	putn mail 2
	mkdir "$QDIR/not-a-queue"
	printf 'x\n' >"$QDIR/stray-file"
	run --separate-stderr -0 q stat
	assert_equal "$stderr" ""
	assert_line jobs
	assert_line mail
	assert_equal "$(printf '%s\n' "${lines[@]}" | grep -c '^[^ ]')" 2
	run -0 q stat --json
	assert_equal "${#lines[@]}" 2
	run -0 jq -r '"\(.queue) \(.new.count)"' <<<"$output"
	assert_equal "$(sort <<<"$output")" "jobs 1
mail 2"
}

@test "stat without a queue and without a spool says so: 66" {
	run --separate-stderr -66 q stat
	assert_output ""
	assert_equal "$stderr" "q stat: $QDIR: no queue directory"
}

@test "stat of an empty spool prints nothing" {
	mkdir -p "$QDIR"
	run --separate-stderr -0 q stat
	assert_output ""
	assert_equal "$stderr" ""
}

@test "stat of several queues reports each; a missing one is 66" {
	q put -m a jobs >/dev/null
	q put -m b mail >/dev/null
	run --separate-stderr -66 q stat --json jobs nope mail
	assert_equal "$stderr" "q stat: nope: no such queue"
	run -0 jq -r .queue <<<"$output"
	assert_output "jobs
mail"
	assert_not_exist "$QDIR/nope"
}

@test "stat of a missing queue is 66" {
	run --separate-stderr -66 q stat nope
	assert_output ""
	assert_equal "$stderr" "q stat: nope: no such queue"
}

@test "stat shows hostile queue names escaped, one header line each" {
	q put -m x "evil"$'\e[31m'"red" >/dev/null
	q put -m y "two"$'\n'"lines" >/dev/null
	q put -m z "a"$'\t'"b" >/dev/null
	run --separate-stderr -0 q stat
	[[ $output != *$'\e'* ]] || fail "raw ESC in output"
	[[ $output != *$'\t'* ]] || fail "raw tab in output"
	assert_equal "${#lines[@]}" 30
	assert_equal "$(printf '%s\n' "${lines[@]}" | grep -c '^[^ ]')" 3
	assert_line 'two\nlines'
	assert_line 'a\tb'
	assert_line --regexp '^evil\\.*31mred$'
	run -0 q stat --json
	run -0 jq -c .queue <<<"$output"
	assert_equal "$(printf '%s\n' "$output" | LC_ALL=C sort)" '"a\tb"
"evil\u001b[31mred"
"two\nlines"'
}
