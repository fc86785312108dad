#!/usr/bin/env bats
# Time boundaries, pinned (issue 18): the second a d= or l= names, the
# backoff's documented bounds, the schedule of a worker's renewals, and
# which claims a sweep may judge by this host's liveness locks.
#
# q(5): a delayed message is not claimed before its d= time, so it is
# ready in the second d= names (d <= now); a lease counts as expired only
# after the second l= names (l < now), for sweep, take, ls and stat alike.
# A test that needs "now" to be one exact second runs at the start of a
# wall-clock second and checks afterwards that the second did not change
# (else it tries again), so no timing is asserted that a loaded machine
# could break.

load helper
load process

# the helper's setup, and then ours
eval "helper_$(declare -f setup)"

setup() {
	helper_setup
	export D="$BATS_TEST_TMPDIR/d"
	mkdir -p "$D"
	LOG="$BATS_TEST_TMPDIR/log"
}

# Sleep until 50 ms into the next wall-clock second (time(2) may lag a
# clock tick).
next_second() {
	local ns w
	ns=$(date +%N)
	w=$((1050000000 - 10#$ns))
	sleep "$((w / 1000000000)).$(printf '%09d' $((w % 1000000000)))"
}

# Run the function $1 (which sets up a fresh queue), then the function
# $2 from the start of a wall-clock second, that second in $NOW, until a
# run of $2 begins and ends within it (at most 10 runs).  Fails only if
# every run straddled a second boundary, which takes a machine that
# stalls for a second each time.
in_one_second() {
	local i
	for ((i = 1; i <= 10; i++)); do
		"$1"
		next_second
		NOW=$(date +%s)
		"$2"
		[ "$(date +%s)" = "$NOW" ] && return 0
		echo "# run $i of $2 crossed into the next second; again"
	done
	fail "$2: no run fitted into one second of the wall clock"
}

# A fresh queue with two ready messages, $a and $b.
two_messages() {
	rm -rf "$QDIR/jobs"
	a=$(q put -m a jobs)
	b=$(q put -m b jobs)
}

# The HOST part of the ID $1.
host_of() {
	local h=${1#*_}
	echo "${h#*.}"
}

# The column $2 (1-based, as awk counts) of the line of `q ls` of queue $1
# that lists the ID $3.
ls_col() {
	q ls "$1" | awk -v id="$3" -v c="$2" '$1 == id { print $c }'
}

# Seconds in a duration as q prints it: N, Ns, Nm, Nh, Nd.
secs() {
	case $1 in
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*h) echo $((${1%h} * 3600)) ;;
	*d) echo $((${1%d} * 86400)) ;;
	*) echo "$1" ;;
	esac
}

# The delay that the worker log in $stderr gives for the retry of the
# claim $1 ("...: $1: WHY, released, retry in DURATION"), in seconds.
retry_delay() {
	local d
	d=$(grep -F -- ": $1: " <<<"$stderr" |
		sed -n 's/.*, released, retry in \([0-9]*[smhd]\{0,1\}\)$/\1/p')
	[ -n "$d" ] || return 1
	secs "$d"
}

# d= of the message $1 in new/ of queue $2, which must have one.
due_of() {
	local n
	n=$(names "$2" new | grep -F -- "$1,") || return 1
	[[ $n == *,d=* ]] || return 1
	n=${n##*,d=}
	echo "${n%%,*}"
}

# l= of the one claim in cur/ of queue $1.
lease_of() {
	local n
	n=$(names "$1" cur)
	[[ $n == *,l=* ]] || return 1
	n=${n##*,l=}
	echo "${n%%,*}"
}

# --- d=: a delayed message is ready in the second it names --------------

# Make $a due this second and $b the next; look, take once, twice.
due_now() {
	mv "$QDIR/jobs/new/$a" "$QDIR/jobs/new/$a,d=$NOW"
	mv "$QDIR/jobs/new/$b" "$QDIR/jobs/new/$b,d=$((NOW + 1))"
	ls_a=$(ls_col jobs 6 "$a")
	ls_b=$(ls_col jobs 6 "$b")
	stat_new=$(q stat jobs | awk '$1 == "new" { print $2, $4, $5 }')
	run --separate-stderr q take jobs
	take1=("$status" "$output" "$stderr")
	run --separate-stderr q take jobs
	take2=("$status" "$output" "$stderr")
}

@test "d= is the first second a message is ready: take claims it then, not a second later" {
	in_one_second two_messages due_now
	# the one due now is claimed, in that second
	assert_equal "${take1[0]}" 0
	assert_equal "${take1[1]}" "$a,a=1"
	# the one due next second is not, and stays delayed
	assert_equal "${take2[0]}" 75
	assert_equal "${take2[1]}" ""
	assert_equal "$(names jobs new)" "$b,d=$((NOW + 1))"
	assert_equal "$(names jobs cur | cut -d, -f1,2)" "$a,a=1"
	# ls and stat agree: due now is ready, due next second is delayed
	assert_equal "$ls_a" "-"
	assert_equal "$ls_b" "+1s"
	assert_equal "$stat_new" "2 1 delayed"
}

# --- l=: a lease expires only after the second it names ------------------

# Claim $a and $b without w=, leased until this second and the last one;
# look, sweep, take once, twice.
lease_now() {
	mv "$QDIR/jobs/new/$a" "$QDIR/jobs/cur/$a,a=1,l=$NOW"
	mv "$QDIR/jobs/new/$b" "$QDIR/jobs/cur/$b,a=1,l=$((NOW - 1))"
	ls_a=$(ls_col jobs 6 "$a")
	ls_b=$(ls_col jobs 6 "$b")
	stat_cur=$(q stat jobs | awk '$1 == "cur" { print $2, $4, $5 }')
	run --separate-stderr q sweep -n jobs
	dry=("$status" "$output" "$stderr")
	run --separate-stderr q sweep jobs
	sweep=("$status" "$output" "$stderr")
	after_sweep=$(names jobs cur)
	run --separate-stderr q take jobs
	take1=("$status" "$output" "$stderr")
	run --separate-stderr q take jobs
	take2=("$status" "$output" "$stderr")
	after_take=$(names jobs cur)
}

@test "l= is the last second of a lease: sweep and take leave the claim in it, ls and stat agree" {
	in_one_second two_messages lease_now
	# ls and stat: the lease of this second holds, last second's expired
	assert_equal "$ls_a" "0s"
	assert_equal "$ls_b" "expired"
	assert_equal "$stat_cur" "2 1 expired"
	# sweep -n and sweep report and return the expired one only
	assert_equal "${dry[0]}" 0
	assert_equal "${dry[1]}" \
	    "jobs: cur/$b,a=1,l=$((NOW - 1)): lease expired, would return to new/"
	assert_equal "${sweep[0]}" 0
	assert_equal "${sweep[1]}" \
	    "jobs: cur/$b,a=1,l=$((NOW - 1)): lease expired, returned to new/"
	assert_equal "$after_sweep" "$a,a=1,l=$NOW"
	# take claims the returned one, then finds nothing to take over
	assert_equal "${take1[0]}" 0
	assert_equal "${take1[1]}" "$b,a=2"
	assert_equal "${take2[0]}" 75
	assert_equal "$(printf '%s\n' "$after_take" | grep -c -F -- "$a,a=1,l=$NOW")" 1
	assert_equal "$(count jobs new)" 0
}

# --- w=: only this host's workers are judged by this host's locks -------

@test "a claim of another host's worker waits for its lease: sweep never judges it by the locks here" {
	a=$(q put -m a jobs)
	b=$(q put -m b jobs)
	host=$(host_of "$a")
	other=elsewhere.example
	[ "$host" != "$other" ]
	l=$(($(date +%s) + 300))
	# PID 999999 holds no lock in this queue: no q process has it
	mv "$QDIR/jobs/new/$a" "$QDIR/jobs/cur/$a,a=1,l=$l,w=999999@$other"
	mv "$QDIR/jobs/new/$b" "$QDIR/jobs/cur/$b,a=1,l=$l,w=999999@$host"
	run -0 --separate-stderr q sweep jobs
	# the local one is dead (its lock is free): back at once
	assert_output "jobs: cur/$b,a=1,l=$l,w=999999@$host: worker gone, returned to new/"
	assert_equal "$(names jobs new)" "$b,a=1"
	# the remote one: its lease holds, whatever the locks here say
	assert_equal "$(names jobs cur)" "$a,a=1,l=$l,w=999999@$other"
	run -0 --separate-stderr q sweep jobs
	assert_output ""
	assert_equal "$(names jobs cur)" "$a,a=1,l=$l,w=999999@$other"
	# nor does take, finding nothing else ready, take it over
	q take jobs >/dev/null
	run -75 --separate-stderr q take jobs
	assert_equal "$(names jobs cur | grep -c -F -- "w=999999@$other")" 1
	run -0 q stat jobs
	assert_line --regexp '^  cur +2 +[0-9]+B +0 expired$'
}

@test "a tmp/ file of another host's writer is judged by its age only, never by the locks here" {
	a=$(q put -m a jobs)
	host=$(host_of "$a")
	# as long as this host's name, to differ only in what it says
	other=$(tr '[:alnum:]' x <<<"$host")
	[ "$other" != "$host" ] || other=$(tr '[:alnum:]' y <<<"$host")
	# a PID that no process holds: a writer of this host by that PID is
	# dead; one of another host tells nothing here
	sh -c 'exit 0' &
	dead=$!
	wait "$dead"
	t=$(($(date +%s) - 3600))
	remote="$t.000001.${dead}_1.$other"
	here="$t.000002.${dead}_2.$host"
	printf 'half' >"$QDIR/jobs/tmp/$remote"
	printf 'half' >"$QDIR/jobs/tmp/$here"
	touch -d '1 hour ago' "$QDIR/jobs/tmp/$remote" "$QDIR/jobs/tmp/$here"
	run -0 --separate-stderr q sweep jobs
	assert_output "jobs: tmp/$here: writer gone, removed"
	assert_equal "$(names jobs tmp)" "$remote"
	# past 36 hours it is stale, whoever wrote it
	touch -d '37 hours ago' "$QDIR/jobs/tmp/$remote"
	run -0 --separate-stderr q sweep jobs
	assert_output "jobs: tmp/$remote: stale, removed"
	assert_equal "$(count jobs tmp)" 0
	assert_equal "$(names jobs new)" "$a"
}

# --- keys/: a dedup key holds through the last second of its window -----

# A fresh queue with dedup 100s and one message put with key k1, $first;
# the record's path in $rec.
keyed_message() {
	rm -rf "$QDIR/jobs"
	q put -m seed jobs >/dev/null
	q config jobs dedup 100s
	first=$(q put -k k1 -m one jobs)
	rec="$QDIR/jobs/keys/$(printf k1 | sha256sum | cut -c1-64)"
	[ -f "$rec" ] || fail "no record $rec"
}

# The key recorded 100 s ago, then 101 s ago: put -k with it each time.
key_at_window_end() {
	touch -d "@$((NOW - 100))" "$rec"
	run --separate-stderr q put -k k1 -m two jobs
	put1=("$status" "$output")
	new1=$(count jobs new)
	touch -d "@$((NOW - 101))" "$rec"
	run --separate-stderr q put -k k1 -m three jobs
	put2=("$status" "$output")
	new2=$(count jobs new)
}

@test "dedup: a key recorded exactly the window ago still holds; a second more and it is forgotten" {
	in_one_second keyed_message key_at_window_end
	assert_equal "${put1[0]}" 0
	assert_equal "${put1[1]}" "$first"
	assert_equal "$new1" 2
	assert_equal "${put2[0]}" 0
	[[ ${put2[1]} =~ $ID_RE ]] || fail "not an ID: ${put2[1]}"
	[ "${put2[1]}" != "$first" ] || fail "still deduplicated a second past the window"
	assert_equal "$new2" 3
	assert_equal "$(cat "$rec")" "${put2[1]}"
}

# --- done/: kept for keep-done, removed in the second it runs out -------

# A fresh queue with keep-done 1s and one claimed message, token $tok.
one_claim() {
	rm -rf "$QDIR/jobs"
	q put -m x jobs >/dev/null
	q config jobs keep-done 1s
	tok=$(q take jobs)
}

@test "keep-done 1s: a message acked this second is kept by a sweep now and removed by one next second" {
	# each sweep must run within its second: at most 10 tries
	for ((k = 1; k <= 10; k++)); do
		one_claim
		next_second
		NOW=$(date +%s)
		q ack jobs "$tok"
		run --separate-stderr q sweep jobs
		sweep1=("$status" "$output")
		done1=$(count jobs done)
		[ "$(date +%s)" = "$NOW" ] || continue
		next_second
		run --separate-stderr q sweep jobs
		sweep2=("$status" "$output")
		done2=$(count jobs done)
		[ "$(date +%s)" = $((NOW + 1)) ] && break
		echo "# try $k: a sweep ran outside its second; again"
	done
	((k <= 10)) || fail "no try fitted its sweeps into their seconds"
	assert_equal "${sweep1[0]}" 0
	assert_equal "${sweep1[1]}" ""
	assert_equal "$done1" 1
	assert_equal "${sweep2[0]}" 0
	assert_equal "${sweep2[1]}" "jobs: done/$tok: past retention, removed"
	assert_equal "$done2" 0
}

# --- backoff: d= of a failed run within the documented bounds ------------

# q(1): backoff doubled for each earlier claim, capped at backoff-max,
# shortened at random by up to a half.  With backoff 1000s, a retry after
# the first claim is due 500 to 1000 seconds after the release, after the
# second 1000 to 2000.  The log gives the exact delay, d= its second.

@test "a failed run is released with the backoff of its first claim: half to all of backoff" {
	ids=()
	for m in a b c; do
		ids+=("$(q put -m "$m" jobs)")
	done
	q config jobs backoff 1000s
	t0=$(date +%s)
	run -0 --separate-stderr timeout 20 q work -a 5 jobs sh -c 'exit 3'
	t1=$(date +%s)
	for id in "${ids[@]}"; do
		delay=$(retry_delay "$id,a=1") || fail "no retry logged: $stderr"
		d=$(due_of "$id" jobs) || fail "not in new/ with d=: $(names jobs new)"
		echo "$id: delay $delay, d=$d, run from $t0 to $t1"
		((delay >= 500 && delay <= 1000)) ||
			fail "delay $delay outside [500, 1000]"
		((d >= t0 + delay && d <= t1 + delay)) ||
			fail "d=$d is not the release time ($t0..$t1) plus $delay"
		assert_equal "$(names jobs new | grep -F -- "$id,")" "$id,a=1,d=$d"
	done
	assert_equal "$(count jobs cur)" 0
	assert_equal "$(count jobs failed)" 0
}

@test "a temporary failure on the second claim: released with twice the backoff, shortened by up to a half" {
	ids=()
	for m in a b c; do
		ids+=("$(q put -m "$m" jobs)")
	done
	q config jobs backoff 1000s
	# a first claim of each, given back at once: the worker's is the second
	toks=()
	for id in "${ids[@]}"; do
		toks+=("$(q take jobs)")
	done
	q release jobs "${toks[@]}"
	assert_equal "$(names jobs new | grep -c ',a=1$')" 3
	t0=$(date +%s)
	run -0 --separate-stderr timeout 20 q work jobs sh -c 'exit 75'
	t1=$(date +%s)
	for id in "${ids[@]}"; do
		delay=$(retry_delay "$id,a=2") || fail "no retry logged: $stderr"
		d=$(due_of "$id" jobs) || fail "not in new/ with d=: $(names jobs new)"
		echo "$id: delay $delay, d=$d, run from $t0 to $t1"
		((delay >= 1000 && delay <= 2000)) ||
			fail "delay $delay outside [1000, 2000]"
		((d >= t0 + delay && d <= t1 + delay)) ||
			fail "d=$d is not the release time ($t0..$t1) plus $delay"
	done
}

@test "after a retry the backoff starts again: b= counts the attempts before it" {
	id=$(q put -m a jobs)
	q config jobs backoff 1000s
	# as q retry leaves a message that used 5 attempts: a=5,b=5
	mv "$QDIR/jobs/new/$id" "$QDIR/jobs/new/$id,a=5,b=5"
	run -0 --separate-stderr timeout 20 q work -a 5 jobs sh -c 'exit 3'
	delay=$(retry_delay "$id,a=6") || fail "no retry logged: $stderr"
	echo "delay $delay"
	((delay >= 500 && delay <= 1000)) ||
		fail "delay $delay outside [500, 1000]: not the first claim's"
}

# --- q work: renewals --------------------------------------------------

# Start "q work ARGS..." in the background: its pid in $wpid, its log in
# $LOG.
bgwork() {
	q work "$@" </dev/null >"$BATS_TEST_TMPDIR/out" 2>"$LOG" 3>&- &
	wpid=$!
	track "$wpid"
}

# Wait for background worker $wpid to exit; its status in $wstatus.
reapworker() {
	waitfor gone "$wpid"
	wstatus=0
	wait "$wpid" || wstatus=$?
}

@test "q work renews a lease at a third of it, well before the lease's last second" {
	id=$(q put -m x jobs)
	# lease 6s: renewed about 2s after the claim, while the lease runs to
	# at least 5s after it; a renewal seen before the second l= names is
	# one made in time, whatever the load
	bgwork -l 6 jobs sh -c '
		touch "$D/started"
		i=0
		while [ ! -e "$D/go" ] && [ $i -lt 400 ]; do
			sleep 0.05; i=$((i + 1))
		done'
	waitfor [ -e "$D/started" ]
	first=$(names jobs cur)
	l0=$(lease_of jobs)
	[[ $first == "$id,a=1,l=$l0,w=$wpid@"* ]] || fail "claim: $first"
	seen= at=
	for ((i = 0; i < 200; i++)); do
		cur=$(names jobs cur)
		at=$(date +%s)
		if [ "$cur" != "$first" ]; then
			seen=$cur
			break
		fi
		((at <= l0 + 2)) || break
		sleep 0.1
	done
	touch "$D/go"
	echo "claimed as $first; then $seen, seen at $at"
	[ -n "$seen" ] || fail "the lease was never renewed (up to $at)"
	# the renewal was made before the lease's last second began
	((at < l0)) || fail "renewed at $at or later, not before l=$l0"
	l1=${seen##*,l=}
	l1=${l1%%,*}
	assert_equal "$seen" "$id,a=1,l=$l1,w=$wpid@${first##*@}"
	((l1 > l0)) || fail "l=$l1 does not extend l=$l0"
	reapworker
	assert_equal "$wstatus" 0
	assert_equal "$(names jobs done)" "$id,a=1"
}

@test "a renewal that fails with EIO: the job is stopped and its exit 0 acknowledges nothing" {
	require_strace
	require_renameat2
	id=$(q put -m x jobs)
	log=$BATS_TEST_TMPDIR/strace
	# renameat2 number 1 is the claim, 2 the first renewal, 2 s later (or,
	# if the claim straddled a second, a renewal of the claim itself, and
	# the first renewal 3): fail both.  The job outlives its SIGTERM and
	# exits 0; a job that is not stopped runs for 6 s and exits 0 too.
	run --separate-stderr timeout 60 strace -f -qq -o "$log" \
		-E ASAN_OPTIONS=detect_leaks=0 -e trace=renameat2 -e signal=none \
		-e inject=renameat2:error=EIO:when=2..3 \
		q work -l 6 jobs sh -c '
			trap "touch \"\$D/term\"" TERM
			i=0
			while [ ! -e "$D/term" ] && [ $i -lt 120 ]; do
				sleep 0.05; i=$((i + 1))
			done
			exit 0'
	cat "$log"
	echo "$stderr"
	assert_equal "$status" 0
	grep -q "^[0-9]* *renameat2(.*\"$id,a=1,l=.*EIO.*(INJECTED)" "$log" ||
		fail "no renewal of the claim failed"
	# q(1): the worker sends SIGTERM and leaves the message alone,
	# whatever the job's exit status
	assert_equal "$(count jobs done)" 0
	assert_equal "$(count jobs new)" 0
	assert_equal "$(names jobs cur | cut -d, -f1,2)" "$id,a=1"
	assert_file_exists "$D/term"
	# and logs the loss, and the outcome set aside
	grep -Fxq "q work: jobs: $id,a=1: lease lost while running: Input/output error; stopping it" <<<"$stderr" ||
		fail "the failed renewal was not taken for a lost lease"
	grep -Fxq "q work: jobs: $id,a=1: exit 0, but the lease was lost: not acknowledged" <<<"$stderr" ||
		fail "the job's exit 0 was not set aside"
	# the worker is gone: the next sweep returns the message at once
	run -0 q sweep jobs
	assert_equal "$(names jobs new)" "$id,a=1"
	assert_equal "$(count jobs cur)" 0
}
