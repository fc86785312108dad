#!/usr/bin/env bats
# q take: claiming.

load helper

@test "take claims the oldest message and prints its claim token" {
	id1=$(q put -m first jobs)
	q put -m second jobs >/dev/null
	run --separate-stderr -0 q take jobs
	assert_output "$id1,a=1"
	assert_equal "$stderr" ""
	assert_equal "$(count jobs cur)" 1
	assert_equal "$(count jobs new)" 1
	f=$(names jobs cur)
	[[ $f == "$id1,a=1,l="* ]]
}

@test "the lease in the name is now plus -l, or the config lease" {
	q put -m x jobs >/dev/null
	q put -m y jobs >/dev/null
	now=$(date +%s)
	q take -l 90 jobs >/dev/null
	q config jobs lease 2h
	q take jobs >/dev/null
	leases=$(names jobs cur | sed 's/.*,l=//' | sort -n)
	l1=$(sed -n 1p <<<"$leases")
	l2=$(sed -n 2p <<<"$leases")
	((l1 >= now + 90 && l1 <= now + 95))
	((l2 >= now + 7200 && l2 <= now + 7205))
}

@test "an empty queue is exit 75 with no output" {
	q put -m x jobs >/dev/null
	q take jobs >/dev/null
	run --separate-stderr -75 q take jobs
	assert_output ""
	assert_equal "$stderr" ""
}

@test "lower priority first, then oldest" {
	a=$(q put -m a jobs)
	b=$(q put -p 7 -m b jobs)
	c=$(q put -p 1 -m c jobs)
	d=$(q put -m d jobs)
	run -0 q take jobs; assert_output "$c,a=1"
	run -0 q take jobs; assert_output "$a,a=1"
	run -0 q take jobs; assert_output "$d,a=1"
	run -0 q take jobs; assert_output "$b,a=1"
}

@test "delayed messages are not taken before they are due" {
	q put -d 1h -m later jobs >/dev/null
	run -75 q take jobs
	assert_equal "$(count jobs new)" 1
}

@test "a due delayed message is taken, and loses its d=" {
	id=$(q put -m x jobs)
	mv "$(qpath jobs)/new/$id" "$(qpath jobs)/new/$id,d=1000000000"
	run -0 q take jobs
	assert_output "$id,a=1"
	[[ $(names jobs cur) != *",d="* ]]
}

@test "each claim counts an attempt" {
	id=$(q put -m x jobs)
	t=$(q take jobs)
	q release jobs "$t"
	run -0 q take jobs
	assert_output "$id,a=2"
}

@test "a paused queue gives nothing, and take says it is paused" {
	q put -m x jobs >/dev/null
	touch "$(qpath jobs)/paused"
	run -75 --separate-stderr q take jobs
	assert_output ""
	assert_equal "$stderr" "q take: jobs: paused"
	rm "$(qpath jobs)/paused"
	run -0 --separate-stderr q take jobs
	assert_equal "$stderr" ""
	# an empty queue that is not paused stays quiet
	run -75 --separate-stderr q take jobs
	assert_equal "$stderr" ""
}

@test "bad lease, missing queue, extra arguments" {
	q put -m x jobs >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -65 q take -l 13h jobs
	assert_equal "$stderr" "q take: invalid lease: 13h (1s to 12h)"
	run --separate-stderr -65 q take -l 0 jobs
	run --separate-stderr -65 q take -l soon jobs
	assert_equal "$stderr" "q take: invalid lease: soon"
	run --separate-stderr -66 q take nosuch
	assert_equal "$stderr" "q take: nosuch: no such queue"
	assert_not_exists "$QDIR/nosuch"
	run --separate-stderr -64 q take jobs extra
	assert_equal "$stderr" "q take: unexpected operand: extra
usage: q take [-l lease] [-w wait] queue"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "take -h prints the usage on stdout" {
	run --separate-stderr -0 q take -h
	assert_output "usage: q take [-l lease] [-w wait] queue"
}

@test "a claim lost to another taker (its rename finds the message gone) is no error: take claims what is left" {
	require_strace
	require_renameat2
	a=$(q put -m a jobs)
	b=$(q put -m b jobs)
	# the rename of the first claim reports ENOENT, as when a rival won
	run --separate-stderr env ASAN_OPTIONS=detect_leaks=0 strace -f -qq \
		-o /dev/null -e inject=renameat2:error=ENOENT:when=1 q take jobs
	assert_success
	assert_equal "$stderr" ""
	# $a is in fact still there: a look again may claim it; one claimed
	[[ $output == "$a,a=1" || $output == "$b,a=1" ]] || fail "token: $output"
	assert_equal "$(names jobs cur | cut -d, -f1,2)" "$output"
	assert_equal "$(count jobs new)" 1
}

@test "a claim whose rename took seconds still gets its whole lease, counted from the claim" {
	require_strace
	require_renameat2
	q put -m a jobs >/dev/null
	t0=$(date +%s)
	run --separate-stderr env ASAN_OPTIONS=detect_leaks=0 strace -f -qq \
		-o /dev/null -e inject=renameat2:delay_exit=3000000:when=1 \
		q take -l 60 jobs
	assert_success
	l=$(names jobs cur | sed 's/.*,l=//')
	echo "started at $t0, l=$l"
	((l >= t0 + 63)) || fail "l=$l: the lease counts from before the claim was made"
}
