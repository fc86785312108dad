#!/usr/bin/env bats
# A put into a topic cut short by a crash: the messages are committed in
# the topic's fan/ before any subscriber gets them, and a sweep of the
# topic completes the delivery of a dead writer's fan/ entries, once to
# each subscriber, never while the writer lives.

load helper

setup() {
	export QDIR="$BATS_TEST_TMPDIR/spool"
	unset XDG_STATE_HOME
	q sub ev s1
	q sub ev s2
	T=$(qpath ev)
}

# IDs held by queue $1 in any state, one per line, sorted (with repeats).
held() {
	find "$(qpath "$1")"/{new,cur,done,failed} -mindepth 1 -maxdepth 1 \
		-printf '%f\n' | sed 's/,.*//' | LC_ALL=C sort
}

# "$1" if s1 was served first (the order of subs/ is the directory's),
# else "$1" reversed.
first_s() {
	if [ "$(count s1 new)" -ne 0 ]; then echo "$1"; else rev <<<"$1"; fi
}

# Nothing left in the topic's tmp/, fan/ or new/; both subscribers hold
# the same messages, each once; prints how many.
settled() {
	local a b
	[ "$(count ev tmp)" -eq 0 ] || { echo "tmp/: $(names ev tmp)"; return 1; }
	[ ! -d "$T/fan" ] || [ "$(count ev fan)" -eq 0 ] ||
		{ echo "fan/: $(names ev fan)"; return 1; }
	[ "$(count ev new)" -eq 0 ] || { echo "topic new/: $(names ev new)"; return 1; }
	a=$(held s1)
	b=$(held s2)
	[ "$a" = "$b" ] || { echo "s1: $a / s2: $b"; return 1; }
	[ -z "$(uniq -d <<<"$a")" ] || { echo "twice: $a"; return 1; }
	[ -n "$a" ] && wc -l <<<"$a" || echo 0
}

@test "killed at its 4th link (3 records, 2 subscribers): the next sweep completes the delivery" {
	require_strace
	run env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/null \
		-e inject=linkat:signal=KILL:when=4 q put -l ev <<<$'a\nb\nc'
	assert_equal "$status" 137
	# the subscriber served first has all three, the other none
	assert_equal "$(count s1 new)$(count s2 new)" "$(first_s 30)"
	assert_equal "$(count ev fan)" 3
	assert_equal "$(count ev tmp)" 0
	run --separate-stderr -0 q sweep ev
	assert_equal "${#lines[@]}" 3
	assert_line --index 0 --regexp '^ev: fan/[^ ]+: writer gone, delivery completed$'
	run -0 settled
	assert_output 3
	for f in "$(qpath s1)"/new/* "$(qpath s2)"/new/*; do
		[[ $(cat "$f") == [abc] ]] || fail "$f holds '$(cat "$f")'"
	done
	# a second sweep has nothing left to do
	run --separate-stderr -0 q sweep ev
	assert_output ""
}

@test "killed at each of its links, renames, syncs and unlinks: a sweep leaves every subscriber the same messages, once each" {
	require_strace
	local sc n nth bad=() runs=0 got
	for sc in renameat2 linkat fsync fdatasync syncfs unlinkat; do
		rm -rf "$QDIR"
		q sub ev s1
		q sub ev s2
		n=$(ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/stdout \
			-e trace="$sc" q put -l ev <<<$'a\nb\nc' 2>/dev/null |
			grep -c "^[0-9]* *$sc(" || true)
		for ((nth = 1; nth <= n; nth++)); do
			rm -rf "$QDIR"
			q sub ev s1
			q sub ev s2
			run --separate-stderr env ASAN_OPTIONS=detect_leaks=0 \
				strace -f -qq -o /dev/null \
				-e inject="$sc:signal=KILL:when=$nth" \
				q put -l ev <<<$'a\nb\nc'
			runs=$((runs + 1))
			[ "$status" -eq 0 ] || [ "$status" -eq 137 ] ||
				bad+=("$sc $nth: put exited $status")
			q sweep ev >/dev/null 2>&1 || bad+=("$sc $nth: sweep failed")
			if ! got=$(settled); then
				bad+=("$sc $nth: $got")
			elif [ "$status" -eq 0 ] && [ "$got" -ne 3 ]; then
				bad+=("$sc $nth: put succeeded, $got delivered")
			fi
		done
	done
	echo "$runs runs"
	printf '%s\n' "${bad[@]}"
	[ "$runs" -ge 12 ]
	[ "${#bad[@]}" -eq 0 ]
}

@test "a sweep leaves the fan/ entries of a live writer alone" {
	require_strace
	# the put stops for 2 s between its first and second link
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/null \
		-e inject=linkat:delay_enter=2000000:when=2 \
		q put -l ev <<<$'a\nb' >"$BATS_TEST_TMPDIR/ids" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		[ -d "$T/fan" ] && [ "$(count ev fan)" -eq 2 ] && break
		sleep 0.02
	done
	assert_equal "$(count ev fan)" 2
	run --separate-stderr -0 q sweep ev
	assert_output ""
	assert_equal "$(count ev fan)" 2
	wait "$pid"
	run -0 settled
	assert_output 2
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/ids")" 2
}

@test "a crashed fan-out is not delivered again to a subscriber that already took the message" {
	require_strace
	run env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/null \
		-e inject=linkat:signal=KILL:when=2 q put -m one ev
	assert_equal "$status" 137
	# $a is the subscriber served first, $b the one the crash left out
	if [ "$(count s1 new)" -eq 1 ]; then a=s1 b=s2; else a=s2 b=s1; fi
	assert_equal "$(count $a new)$(count $b new)" 10
	tok=$(q take $a)
	q ack $a "$tok"
	assert_equal "$(count $a done)" 1
	run --separate-stderr -0 q sweep ev
	assert_line --regexp '^ev: fan/[^ ]+: writer gone, delivery completed$'
	assert_equal "$(count $a new)" 0
	assert_equal "$(count $a done)" 1
	assert_equal "$(count $b new)" 1
	assert_equal "$(count ev fan)" 0
}

@test "sweep -n says it would complete a crashed fan-out and changes nothing" {
	require_strace
	run env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/null \
		-e inject=linkat:signal=KILL:when=2 q put -m one ev
	assert_equal "$status" 137
	before=$(find "$QDIR" | LC_ALL=C sort)
	run --separate-stderr -0 q sweep -n ev
	assert_output --regexp '^ev: fan/[^ ]+: writer gone, would complete the delivery$'
	assert_equal "$(find "$QDIR" | LC_ALL=C sort)" "$before"
}

@test "a crashed fan-out whose subscribers are all gone is kept in the topic's new/" {
	require_strace
	run env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/null \
		-e inject=linkat:signal=KILL:when=1 q put -m one ev
	assert_equal "$status" 137
	assert_equal "$(count ev fan)" 1
	q unsub ev s1
	q unsub ev s2
	run --separate-stderr -0 q sweep ev
	assert_equal "$(count ev fan)" 0
	assert_equal "$(count ev new)" 1
	assert_equal "$(cat "$T"/new/*)" one
}

@test "a subscriber whose delivery fails halfway keeps none of the batch; the other gets all of it" {
	require_strace
	require_renameat2
	# the second link is the second message to the subscriber served first
	run --separate-stderr env ASAN_OPTIONS=detect_leaks=0 strace -f -qq \
		-o /dev/null -e inject=linkat:error=ENOSPC:when=2 \
		q put -m a -m b ev
	assert_equal "$status" 74
	[[ $stderr =~ ^"q put: ev: subs/"(s[12])": No space left on device"$ ]] ||
		fail "stderr: $stderr"
	bad=${BASH_REMATCH[1]}
	good=s1
	[ "$bad" = s1 ] && good=s2
	assert_equal "$(count "$bad" new)" 0
	assert_equal "$(count "$good" new)" 2
	assert_equal "$(names "$good" new)" "$(printf '%s\n' "${lines[@]}" | LC_ALL=C sort)"
	assert_equal "$(count ev tmp)" 0
	assert_equal "$(count ev fan)" 0
	assert_equal "$(count ev new)" 0
}
