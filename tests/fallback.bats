#!/usr/bin/env bats
# The link + unlink fallback of the one move (libspool/io.c), which q takes
# where renameat2(RENAME_NOREPLACE) gives EINVAL (NFS, some FUSE).  strace
# makes renameat2 give EINVAL, so these tests run on the normal q as well
# as on tests/fallback/q (tests/run's fallback pass), which never calls it.
# When the unlink of the source fails after the link was made, the link
# must go again: the message stays in exactly one state directory, and the
# command reports the failure.

load helper

# Run q "$@" under strace with renameat2 giving EINVAL and unlinkat call
# number $1 (0: none) giving EIO, tracing linkat and unlinkat to
# $BATS_TEST_TMPDIR/trace; sets status, output, stderr like run.
fallback_run() {
	local when=$1 inj=()
	shift
	[ "$when" -eq 0 ] || inj=(-e inject="unlinkat:error=EIO:when=$when")
	run --separate-stderr strace -f -qq -o "$BATS_TEST_TMPDIR/trace" \
		-E ASAN_OPTIONS=detect_leaks=0 \
		-e trace=renameat2,linkat,unlinkat \
		-e inject=renameat2:error=EINVAL "${inj[@]}" q "$@"
}

# From the trace of a run without faults: the number (for when=N) of the
# unlinkat of source name $1, which must directly follow the linkat of it.
unlink_number() {
	awk -v src="\"$1\"" '
		{ sub(/^[0-9]+ +/, "") }
		/^unlinkat\(/ { n++ }
		/^linkat\(/ { linked = index($0, src) > 0; next }
		/^unlinkat\(/ && linked && index($0, src) { print n; exit }
		{ linked = 0 }' "$BATS_TEST_TMPDIR/trace"
}

# The trace shows the link of $1 made and its unlink failed with EIO.
linked_then_unlink_failed() {
	grep -E "^[0-9]+ +linkat\(.*\"$1\".*\) = 0$" \
		"$BATS_TEST_TMPDIR/trace" &&
	grep -E "^[0-9]+ +unlinkat\(.*\"$1\".*= -1 EIO .*\(INJECTED\)" \
		"$BATS_TEST_TMPDIR/trace"
}

# In how many state directories of queue $1 is a message with ID $2?
states_of() {
	local d n=0
	for d in tmp new cur done failed; do
		if [ -n "$(find "$QDIR/$1/$d" -mindepth 1 -maxdepth 1 \
		    \( -name "$2" -o -name "$2,*" \) -print -quit)" ]; then
			n=$((n + 1))
		fi
	done
	echo "$n"
}

@test "link + unlink: a take whose unlink of new/ fails gets 74, the message stays only in new/, and is taken afterwards" {
	local n id

	require_strace
	# baseline on another queue in the same state: which unlinkat it is
	id=$(q put -m probe probe)
	fallback_run 0 take probe
	[ "$status" -eq 0 ]
	[ "$output" = "$id,a=1" ]
	n=$(unlink_number "$id")
	echo "baseline: the unlink of new/$id is unlinkat $n"
	[ -n "$n" ]

	id=$(q put -m hello jobs)
	fallback_run "$n" take jobs
	echo "status=$status stdout=$output stderr=$stderr"
	linked_then_unlink_failed "$id"
	[ "$status" -eq 74 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *jobs* && $stderr == *"Input/output error"* ]]
	run names jobs new
	assert_output "$id"
	[ "$(count jobs cur)" -eq 0 ]
	[ "$(states_of jobs "$id")" -eq 1 ]

	# the failed claim did not count as an attempt
	run q take jobs
	assert_success
	assert_output "$id,a=1"
	[ "$(count jobs new)" -eq 0 ]
	[ "$(states_of jobs "$id")" -eq 1 ]
}

@test "link + unlink: an ack whose unlink of cur/ fails gets 74, the claim stays only in cur/, and the ack works afterwards" {
	local n id t claim

	require_strace
	q put -m probe probe >/dev/null
	t=$(q take probe)
	claim=$(names probe cur)
	fallback_run 0 ack probe "$t"
	[ "$status" -eq 0 ]
	n=$(unlink_number "$claim")
	echo "baseline: the unlink of cur/$claim is unlinkat $n"
	[ -n "$n" ]

	id=$(q put -m hello jobs)
	t=$(q take jobs)
	claim=$(names jobs cur)
	fallback_run "$n" ack jobs "$t"
	echo "status=$status stdout=$output stderr=$stderr"
	linked_then_unlink_failed "$claim"
	[ "$status" -eq 74 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *jobs* && $stderr == *"$t"* ]]
	[[ $stderr == *"Input/output error"* ]]
	run names jobs cur
	assert_output "$claim"
	[ "$(count jobs done)" -eq 0 ]
	[ "$(states_of jobs "$id")" -eq 1 ]

	run --separate-stderr q ack jobs "$t"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	run names jobs done
	assert_output "$id,a=1"
	[ "$(count jobs cur)" -eq 0 ]
	[ "$(states_of jobs "$id")" -eq 1 ]
}

# Start q take -l $2 jobs in the background with renameat2 giving EINVAL
# and strace's injection $3 (delay_enter=...), its output in $1 and $1.err
# of the test's directory, its links and unlinks traced to $1.trace.
# Sets held (its PID).
held_taker() {
	strace -f -qq -o "$BATS_TEST_TMPDIR/$1.trace" \
		-E ASAN_OPTIONS=detect_leaks=0 \
		-e trace=renameat2,linkat,unlinkat \
		-e inject=renameat2:error=EINVAL -e inject="$3" \
		q take -l "$2" jobs >"$BATS_TEST_TMPDIR/$1" \
		2>"$BATS_TEST_TMPDIR/$1.err" 3>&- &
	held=$!
}

# held_taker first, held $1 microseconds at each unlink; return once its
# link is in cur/.  Sets first (its PID).
held_take() {
	held_taker first 1h "unlinkat:delay_enter=$1"
	first=$held
	for ((i = 0; i < 250; i++)); do
		[ "$(count jobs cur)" -eq 1 ] && break
		sleep 0.01
	done
	assert_equal "$(count jobs cur)" 1
}

# held_taker second with lease $1, held $2 microseconds at its first
# link; return once it is held there.  Sets pid (its PID).
held_second() {
	held_taker second "$1" "linkat:delay_enter=$2:when=1"
	pid=$held
	held_in "$pid" linkat
}

# A second q take -l 1h jobs, renameat2 giving EINVAL, under run.
second_take() {
	run --separate-stderr strace -f -qq -o /dev/null \
		-E ASAN_OPTIONS=detect_leaks=0 -e inject=renameat2:error=EINVAL \
		q take -l 1h jobs
}

@test "link + unlink: two takers of one message, one linking while the other has yet to unlink: one claim, the loser finds nothing" {
	require_strace
	q put -m x jobs >/dev/null
	# the first taker links, then waits a second before its unlink
	held_take 1000000
	# the second links meanwhile: the same name in the same second
	second_take
	second=$status
	wait "$first" && rc=0 || rc=$?
	# exactly one of them holds the message; the other found nothing
	[ "$rc $second" = "0 75" ] || [ "$rc $second" = "75 0" ] ||
		fail "statuses $rc and $second; $(cat "$BATS_TEST_TMPDIR/first.err") $stderr"
	assert_equal "$(count jobs new)" 0
	assert_equal "$(count jobs cur)" 1
	[ "$rc" -ne 0 ] || assert_equal "$(names jobs cur | cut -d, -f1,2)" \
		"$(cut -d, -f1,2 <"$BATS_TEST_TMPDIR/first")"
}

@test "link + unlink: two takers build the same claim name in the same second: the loser moves on to the next message" {
	local a b first rc second
	require_strace
	a=$(q put -m a jobs)
	b=$(q put -m b jobs)
	held_take 1000000
	second_take
	second=$status
	wait "$first" && rc=0 || rc=$?
	echo "first: $rc $(cat "$BATS_TEST_TMPDIR/first" "$BATS_TEST_TMPDIR/first.err")"
	echo "second: $second $output $stderr"
	[ "$rc" -eq 0 ]
	[ "$second" -eq 0 ]
	[ -z "$stderr" ]
	# each got one of the two; both in cur/, nothing left in new/
	[ "$(sort "$BATS_TEST_TMPDIR/first" <(echo "$output") | tr '\n' ' ')" \
	    = "$a,a=1 $b,a=1 " ]
	assert_equal "$(count jobs new)" 0
	assert_equal "$(count jobs cur)" 2
	[ "$(states_of jobs "$a")" -eq 1 ]
	[ "$(states_of jobs "$b")" -eq 1 ]
}

@test "link + unlink: two takers that looked at new/ before either linked build the same claim name: the later link fails with EEXIST, and its taker moves on" {
	local a b first rc pid second try
	require_held linkat
	# the names agree only when both are made in the same second: a run
	# that straddles a second is tried again
	for try in 1 2 3; do
		rm -rf -- "${QDIR:?}/jobs"
		a=$(q put -m a jobs)
		b=$(q put -m b jobs)
		while [ "${EPOCHREALTIME#*.}" -gt 300000 ]; do sleep 0.01; done
		# the second reads new/ (one link), names its claim, and is
		# held at its link
		held_second 1h 2000000
		# the first links the same name meanwhile, and is held at its
		# unlink
		held_take 3000000
		wait "$pid" && second=0 || second=$?
		wait "$first" && rc=0 || rc=$?
		grep -q "EEXIST" "$BATS_TEST_TMPDIR/second.trace" && break
	done
	cat "$BATS_TEST_TMPDIR/second.trace"
	grep -E "^[0-9]+ +linkat\(.*\"$a\".*= -1 EEXIST" \
		"$BATS_TEST_TMPDIR/second.trace"
	echo "first: $rc $(cat "$BATS_TEST_TMPDIR/first" \
	    "$BATS_TEST_TMPDIR/first.err")"
	echo "second: $second $(cat "$BATS_TEST_TMPDIR/second" \
	    "$BATS_TEST_TMPDIR/second.err")"
	[ "$rc" -eq 0 ]
	[ "$second" -eq 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/first.err" ]
	[ ! -s "$BATS_TEST_TMPDIR/second.err" ]
	assert_equal "$(cat "$BATS_TEST_TMPDIR/first")" "$a,a=1"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/second")" "$b,a=1"
	assert_equal "$(count jobs new)" 0
	assert_equal "$(count jobs cur)" 2
	[ "$(states_of jobs "$a")" -eq 1 ]
	[ "$(states_of jobs "$b")" -eq 1 ]
}

@test "link + unlink: a take whose unlink reports ENOENT for an unlink that was done (an NFS retransmission) keeps its claim" {
	local id first rc
	require_strace
	id=$(q put -m hello jobs)
	# the taker is held at its unlink; meanwhile the source goes, as when
	# the server did a first REMOVE whose reply was lost
	held_take 3000000
	rm "$QDIR/jobs/new/$id"
	wait "$first" && rc=0 || rc=$?
	echo "take: $rc $(cat "$BATS_TEST_TMPDIR/first" "$BATS_TEST_TMPDIR/first.err")"
	[ "$rc" -eq 0 ]
	assert_equal "$(cat "$BATS_TEST_TMPDIR/first")" "$id,a=1"
	[ ! -s "$BATS_TEST_TMPDIR/first.err" ]
	run names jobs cur
	assert_output --regexp "^$id,a=1,l=[0-9]+\$"
	[ "$(states_of jobs "$id")" -eq 1 ]
	run q ack jobs "$id,a=1"
	assert_success
	[ "$(states_of jobs "$id")" -eq 1 ]
	[ "$(count jobs done)" -eq 1 ]
}

@test "link + unlink: a taker whose unlink finds the source gone after the winner acknowledged the message gives it up: the job does not run twice" {
	local id pid first rc second claim
	require_held linkat
	id=$(q put -m hello jobs)
	# the second taker reads new/ (one link) and is held at its link
	held_second 2h 3000000
	# the first links before it, and is held at its unlink for 6 s
	held_take 6000000
	# the second links too, unlinks new/ first and wins
	wait "$pid" && second=0 || second=$?
	echo "second: $second $(cat "$BATS_TEST_TMPDIR/second" \
	    "$BATS_TEST_TMPDIR/second.err")"
	[ "$second" -eq 0 ]
	assert_equal "$(cat "$BATS_TEST_TMPDIR/second")" "$id,a=1"
	# its job is quick: acknowledged before the first's unlink comes
	claim=$(names jobs cur | sort -t, -k3 | tail -n 1)
	run q ack jobs "$QDIR/jobs/cur/$claim"
	assert_success
	[ "$(count jobs done)" -eq 1 ]
	# the first finds new/ gone, and the message done: not its claim
	wait "$first" && rc=0 || rc=$?
	echo "first: $rc $(cat "$BATS_TEST_TMPDIR/first" \
	    "$BATS_TEST_TMPDIR/first.err")"
	grep -E "unlinkat\(.*\"$id\".*= -1 ENOENT" "$BATS_TEST_TMPDIR/first.trace"
	[ "$rc" -eq 75 ]
	[ ! -s "$BATS_TEST_TMPDIR/first" ]
	[ "$(count jobs cur)" -eq 0 ]
	[ "$(count jobs new)" -eq 0 ]
	[ "$(states_of jobs "$id")" -eq 1 ]
}

# Kill q "$@" (renameat2 giving EINVAL) at its unlink of source name $1,
# right after it linked the new name: call number from a baseline run of
# the same command on queue "probe", set up by the caller like the real one.
kill_between() {
	local src=$1 n
	shift
	fallback_run 0 "$@"
	[ "$status" -eq 0 ] || fail "baseline: $status $output $stderr"
	n=$(unlink_number "$src")
	[ -n "$n" ] || fail "no unlink of $src in the baseline"
	echo "$n"
}

@test "link + unlink: kill -9 of a taker between link and unlink: the next taker does not claim the message again, a sweep adds no copy" {
	local id other n claim
	require_strace
	id=$(q put -m probe probe)
	n=$(kill_between "$id" take -l 1s probe)
	id=$(q put -m hello jobs)
	other=$(q put -m other jobs)
	run strace -f -qq -o /dev/null -E ASAN_OPTIONS=detect_leaks=0 \
		-e inject=renameat2:error=EINVAL \
		-e inject="unlinkat:signal=KILL:when=$n" q take -l 1s jobs
	# half done: the message is in new/ and in cur/, one inode
	[ "$(states_of jobs "$id")" -eq 2 ]
	claim=$(names jobs cur)
	[ "$(stat -c %i "$QDIR/jobs/new/$id")" = \
	    "$(stat -c %i "$QDIR/jobs/cur/$claim")" ]

	# the next taker finishes that claim and takes the other message
	fallback_run 0 take -l 1h jobs
	echo "status=$status stdout=$output stderr=$stderr"
	[ "$status" -eq 0 ]
	assert_output "$other,a=1"
	[ "$(states_of jobs "$id")" -eq 1 ]
	run names jobs cur
	assert_line "$claim"

	# once the orphan's lease is over a sweep returns it, once
	sleep 2
	fallback_run 0 sweep jobs
	echo "status=$status stdout=$output stderr=$stderr"
	[ "$status" -eq 0 ]
	run names jobs new
	assert_output "$id,a=1"
	[ "$(states_of jobs "$id")" -eq 1 ]
	run q take jobs
	assert_output "$id,a=2"
}

@test "link + unlink: kill -9 of a release between link and unlink: sweeps finish the release instead of failing, and the token is not reused" {
	local id n t claim
	require_strace
	q put -m probe probe >/dev/null
	t=$(q take -l 1s probe)
	claim=$(names probe cur)
	n=$(kill_between "$claim" release probe "$t")
	id=$(q put -m hello jobs)
	t=$(q take -l 1s jobs)
	claim=$(names jobs cur)
	run strace -f -qq -o /dev/null -E ASAN_OPTIONS=detect_leaks=0 \
		-e inject=renameat2:error=EINVAL \
		-e inject="unlinkat:signal=KILL:when=$n" q release jobs "$t"
	[ "$(states_of jobs "$id")" -eq 2 ]
	run names jobs new
	assert_output "$id,a=1"

	sleep 2
	fallback_run 0 sweep jobs
	echo "status=$status stdout=$output stderr=$stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	assert_output --partial "half-moved"
	[ "$(count jobs cur)" -eq 0 ]
	run names jobs new
	assert_output "$id,a=1"
	fallback_run 0 sweep jobs
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	run q take jobs
	assert_output "$id,a=2"
}

@test "link + unlink: kill -9 of a release between link and unlink: the next taker finishes the release and claims the message with a new token" {
	local id n t
	require_strace
	q put -m probe probe >/dev/null
	t=$(q take probe)
	n=$(kill_between "$(names probe cur)" release probe "$t")
	id=$(q put -m hello jobs)
	t=$(q take jobs)
	run strace -f -qq -o /dev/null -E ASAN_OPTIONS=detect_leaks=0 \
		-e inject=renameat2:error=EINVAL \
		-e inject="unlinkat:signal=KILL:when=$n" q release jobs "$t"
	[ "$(states_of jobs "$id")" -eq 2 ]
	fallback_run 0 take jobs
	echo "status=$status stdout=$output stderr=$stderr"
	[ "$status" -eq 0 ]
	assert_output "$id,a=2"
	[ "$(count jobs new)" -eq 0 ]
	[ "$(count jobs cur)" -eq 1 ]
	[ "$(states_of jobs "$id")" -eq 1 ]
}
