#!/usr/bin/env bats
# One grammar for numbers, durations and moments; one meaning for an ID
# with attributes; retention by the time q recorded (q(1), q(5)).

load helper

# Put a message and ack it; print its ID.
acked() {
	local id
	id=$(q put -m done jobs)
	q ack jobs "$(q take jobs)"
	printf '%s\n' "$id"
}

# The d= of the only message in new/ of jobs.
due() {
	names jobs new | sed -n 's/.*,d=\([0-9]*\).*/\1/p'
}

@test "a leading zero is accepted by -d as it is by -p" {
	now=$(date +%s)
	run --separate-stderr -0 q put -d 05 -p 05 -m x jobs
	d=$(due)
	[ "$d" -ge $((now + 5)) ] && [ "$d" -le $((now + 6)) ] ||
		fail "d=$d, expected about $((now + 5))"
	assert_equal "$(names jobs new)" "$output,d=$d"
}

@test "-d takes weeks" {
	now=$(date +%s)
	q put -d 2w -m x jobs >/dev/null
	d=$(due)
	[ "$d" -ge $((now + 1209600)) ] && [ "$d" -le $((now + 1209601)) ] ||
		fail "d=$d, expected about $((now + 1209600))"
}

@test "-d @EPOCH delays put and release to that time; a time past is now" {
	at=$(($(date +%s) + 3600))
	id=$(q put -d "@$at" -m x jobs)
	assert_equal "$(names jobs new)" "$id,d=$at"
	q put -d @1000000000 -m y other >/dev/null
	run --separate-stderr -0 q take other
	q put -m z rel >/dev/null
	tok=$(q take rel)
	q release -d "@$at" rel "$tok"
	assert_equal "$(names rel new)" "${tok%,a=1},a=1,d=$at"
}

@test "numbers are digits only: signs, blanks and hex are refused alike" {
	for bad in +5 ' 5' 0x5 -1 5x; do
		run --separate-stderr -65 q put -p "$bad" -m x jobs
		assert_equal "$stderr" "q put: invalid priority: $bad"
		run --separate-stderr -65 q put -d "$bad" -m x jobs
		assert_equal "$stderr" "q put: invalid delay: $bad"
	done
	run --separate-stderr -65 q put -d @-5 -m x jobs
	assert_equal "$stderr" "q put: invalid delay: @-5"
	assert_not_exist "$(qpath jobs)"
}

@test "an ID with a= names that claim count in every command; other attributes are ignored" {
	id=$(q put -p 3 -m body jobs)
	# never claimed: a=1 names nothing, for reading and for deleting
	for cmd in cat rm; do
		run --separate-stderr -66 q "$cmd" jobs "$id,a=1"
		assert_equal "$stderr" "q $cmd: jobs: $id,a=1: no such message"
	done
	# p= and d= are not part of what names it
	run --separate-stderr -0 q cat jobs "$id,p=7,d=1000000000"
	assert_output body
	tok=$(q take jobs)
	q fail jobs "$tok"
	run --separate-stderr -66 q retry jobs "$id,a=2"
	assert_equal "$stderr" "q retry: jobs: $id,a=2: no such message"
	run --separate-stderr -0 q retry jobs "$id,a=1"
	run --separate-stderr -66 q rm jobs "$id,a=2"
	run --separate-stderr -0 q rm jobs "$id,p=9,a=1"
	assert_equal "$(count jobs new)" 0
}

@test "the move into done/ records its time: an old message acked now is kept" {
	q put -m x jobs >/dev/null
	q rm jobs "$(names jobs new)"
	q config jobs keep-done 1d
	id=$(q put -m x jobs)
	# written three days ago, as a restored backlog would be
	touch -m -d '3 days ago' "$(qpath jobs)/new/$id"
	q ack jobs "$(q take jobs)"
	run --separate-stderr -0 q sweep jobs
	assert_equal "$(count jobs done)" 1
}

@test "retention reads that time, not ctime: chmod -R does not make old messages new" {
	q put -m x jobs >/dev/null
	q rm jobs "$(names jobs new)"
	q config jobs keep-done 1d
	q config jobs keep-failed 1d
	id=$(acked)
	q put -m y jobs >/dev/null
	q fail jobs "$(q take jobs)"
	# a restore that kept the times, then a chmod: ctime is now
	touch -m -d '2 days ago' "$(qpath jobs)"/done/* "$(qpath jobs)"/failed/*
	chmod -R g+r "$(qpath jobs)"
	run --separate-stderr -0 q sweep jobs
	assert_equal "$(count jobs done)" 0
	assert_equal "$(count jobs failed)" 0
}

@test "replay -s and purge -o go by the recorded time too" {
	old=$(acked)
	touch -m -d '2 days ago' "$(qpath jobs)/done/$old,a=1"
	chmod g+r "$(qpath jobs)/done/$old,a=1"
	new=$(acked)
	run --separate-stderr -0 q replay -s 1d jobs
	assert_equal "$(names jobs new)" "$new,a=1,b=1"
	run --separate-stderr -0 q purge -s done -o 1d jobs
	assert_equal "$(count jobs done)" 0
}

@test "a sweep that moves an exhausted claim to failed/ records its time" {
	q put -m x jobs >/dev/null
	q rm jobs "$(names jobs new)"
	q config jobs attempts 1
	q config jobs keep-failed 1d
	id=$(q put -m x jobs)
	touch -m -d '3 days ago' "$(qpath jobs)/new/$id"
	q take -l 1s jobs >/dev/null
	sleep 2.1
	q sweep jobs
	assert_equal "$(count jobs failed)" 1
	q sweep jobs
	assert_equal "$(count jobs failed)" 1
}

@test "options may follow operands, except in work, where they are CMD's" {
	run --separate-stderr -0 q put jobs -m one -p 2
	id=$output
	assert_equal "$(names jobs new)" "$id,p=2"
	run --separate-stderr -0 q take jobs -l 1m
	tok=$output
	run --separate-stderr -0 q release jobs "$tok" -d 1h
	[[ $(names jobs new) == "$id,p=2,a=1,d="* ]] || fail "$(names jobs new)"
	run --separate-stderr -0 q stat jobs --json
	assert_equal "$(jq -r .queue <<<"$output")" jobs
	run --separate-stderr -0 q sweep jobs -n
	# in work, what follows the queue is CMD and its arguments
	q put -m two w >/dev/null
	run --separate-stderr -0 q work w echo -n
	assert_output ""
	assert_equal "$(count w done)" 1
}

@test "usage errors say what was wrong" {
	run --separate-stderr -64 q take
	assert_equal "${stderr_lines[0]}" "q take: missing queue"
	run --separate-stderr -64 q wait jobs more
	assert_equal "${stderr_lines[0]}" "q wait: unexpected operand: more"
	run --separate-stderr -64 q config jobs lease 1m extra
	assert_equal "${stderr_lines[0]}" "q config: unexpected operand: extra"
	run --separate-stderr -64 q work jobs
	assert_equal "${stderr_lines[0]}" "q work: missing cmd"
	run --separate-stderr -64 q touch jobs
	assert_equal "${stderr_lines[0]}" "q touch: missing id"
	assert_not_exist "$(qpath jobs)"
}

@test "a message from a host whose clock is ahead: age 0, and stat flags the skew" {
	id=$(q put -m x jobs)
	ahead=$(($(date +%s) + 3600))
	mv "$(qpath jobs)/new/$id" "$(qpath jobs)/new/$ahead.${id#*.}"
	run --separate-stderr -0 q stat jobs
	assert_line "  skewed            1  enqueued ahead of this clock"
	assert_line "  oldest ready: 0s"
	run --separate-stderr -0 q stat --json jobs
	assert_equal "$(jq -c '[.skewed, .oldest_ready]' <<<"$output")" "[1,0]"
	# a queue in step says nothing of skew
	q put -m y other >/dev/null
	run --separate-stderr -0 q stat other
	refute_line --partial skewed
}

@test "ls: one rule for a clock ahead: age 0 in text and JSON, and flagged" {
	id=$(q put -m x jobs)
	ahead=$(($(date +%s) + 3600))
	mv "$(qpath jobs)/new/$id" "$(qpath jobs)/new/$ahead.${id#*.}"
	run --separate-stderr -0 q ls jobs
	assert_output --regexp "^$ahead\\.[^ ]+ +new +p=5 a=0 +0s! "
	run --separate-stderr -0 q ls --json jobs
	# the second may turn between the mv and the ls
	[[ $(jq -c '[.age, .skew]' <<<"$output") =~ ^\[0,(3599|3600)\]$ ]] ||
		fail "age and skew: $output"
	# in step: no flag, no skew member
	q put -m y other >/dev/null
	run --separate-stderr -0 q ls --json other
	assert_equal "$(jq -c '.skew' <<<"$output")" null
	run --separate-stderr -0 q ls other
	refute_output --partial '!'
}
