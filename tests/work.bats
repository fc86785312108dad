#!/usr/bin/env bats
# q work: the worker loop (SPEC section 3).
#
# Jobs signal the test through files under $D; every wait is a loop with a
# limit, every foreground worker runs under timeout(1), and every process
# started in the background is killed in teardown.

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

# Start "q work ARGS..." in the background: its pid in $wpid, its log in
# $LOG, its stdout in $BATS_TEST_TMPDIR/out.
bgwork() {
	q work "$@" </dev/null >"$BATS_TEST_TMPDIR/out" 2>"$LOG" 3>&- &
	wpid=$!
	track "$wpid"
}

# Does ps show process $1 with $2 in its arguments?
psargs() {
	[[ $(ps -o args= -p "$1") == *"$2"* ]]
}

# Create queue $1 with nothing ready in it.
mkqueue() {
	local t
	q put -m x "$1" >/dev/null
	t=$(q take "$1")
	q ack "$1" "$t"
}

# Is worker $1 idle: nothing running, asleep waiting for messages?
idle() {
	[[ $(ps -o args= -p "$1") == *" 0 running"* ]] && inpoll "$1"
}

# Wait for background worker $wpid to exit; its status in $wstatus.
reapworker() {
	waitfor gone "$wpid"
	wstatus=0
	wait "$wpid" || wstatus=$?
}

# Number of lines of file $1 (0 if missing).
lines_of() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# Number of files in $D whose names start with $1.
markers() {
	find "$D" -mindepth 1 -maxdepth 1 -name "$1*" | wc -l
}

# The log of the last `run --separate-stderr` has the exact line $1.
logged() {
	grep -Fxq -- "$1" <<<"$stderr" ||
		fail "no log line: $1"$'\n'"log:"$'\n'"$stderr"
}

# The log of the last run has a line matching the extended regexp $1.
logged_re() {
	grep -Eq -- "$1" <<<"$stderr" ||
		fail "no log line matching: $1"$'\n'"log:"$'\n'"$stderr"
}

# Has background worker $1 taken in a stop signal (its log or ps says so)?
stopping() {
	grep -Fq "stopping" "$LOG" || psargs "$1" "stopping"
}

# d= of the message $1 in new/ of queue $2, which must have one.
due_of() {
	local n
	n=$(names "$2" new | grep -F -- "$1,") || return 1
	[[ $n == *,d=* ]] || return 1
	echo "${n##*,d=}"
}

# --- CMD's input and environment ---------------------------------------

@test "CMD gets the body on stdin and Q_QUEUE, Q_ID, Q_ATTEMPT, Q_ENQUEUED" {
	id=$(q put -m "hello body" jobs)
	run -0 --separate-stderr timeout 20 q work jobs sh -c '
		cat >"$D/body"
		printf "%s\n" "$Q_QUEUE" >"$D/queue"
		printf "%s\n" "$Q_ID" >"$D/id"
		printf "%s\n" "$Q_ATTEMPT" >"$D/attempt"
		printf "%s\n" "$Q_ENQUEUED" >"$D/enqueued"'
	assert_equal "$(cat "$D/body")" "hello body"
	q_queue=$(cat "$D/queue")
	[[ $q_queue == /* ]] || fail "Q_QUEUE is not absolute: $q_queue"
	[ "$q_queue" -ef "$QDIR/jobs" ] || fail "Q_QUEUE is not the queue: $q_queue"
	assert_equal "$(cat "$D/id")" "$id"
	assert_equal "$(cat "$D/attempt")" 1
	assert_equal "$(cat "$D/enqueued")" "$((10#${id%%.*}))"
	assert_equal "$(names jobs done)" "$id,a=1"
	logged "q work: jobs: $id,a=1: done"
}

@test "Q_QUEUE is absolute when the queue is given as a relative path" {
	q put -m x jobs >/dev/null
	cd "$QDIR"
	run -0 --separate-stderr timeout 20 q work ./jobs sh -c \
	    'printf "%s\n" "$Q_QUEUE" >"$D/queue"'
	q_queue=$(cat "$D/queue")
	[[ $q_queue == /* ]] || fail "Q_QUEUE is not absolute: $q_queue"
	[ "$q_queue" -ef "$QDIR/jobs" ] || fail "Q_QUEUE is not the queue: $q_queue"
}

@test "stdin is the claimed message file itself, in cur/" {
	id=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work jobs sh -c \
	    'readlink /proc/self/fd/0 >"$D/stdin"'
	target=$(cat "$D/stdin")
	cur=$(cd "$QDIR/jobs/cur" && pwd -P)
	[[ $target == "$cur/$id,a=1,l="*",w="* ]] ||
		fail "stdin is $target, not the claim in $cur"
}

@test "CMD has no descriptors but 0, 1 and 2, even with jobs beside it" {
	a=$(q put -m x jobs)
	b=$(q put -m y jobs)
	echo spare >"$BATS_TEST_TMPDIR/spare"
	# two jobs at once; the worker itself inherits a descriptor 7
	run -0 --separate-stderr timeout 20 q work -j 2 jobs sh -c '
		touch "$D/in.$Q_ID"
		i=0
		while [ "$(find "$D" -name "in.*" | wc -l)" -lt 2 ] &&
		    [ $i -lt 200 ]; do
			sleep 0.05; i=$((i + 1))
		done
		ls -l /proc/self/fd >"$D/fds.$Q_ID"' 7<"$BATS_TEST_TMPDIR/spare"
	for id in "$a" "$b"; do
		# the descriptors, less the one ls opened to read the directory
		fds=$(grep -- ' -> ' "$D/fds.$id" |
		    grep -v -- ' -> /proc/[0-9]*/fd$' |
		    sed 's/.* \([0-9][0-9]*\) -> .*/\1/' | sort -n | tr '\n' ' ')
		assert_equal "$fds" "0 1 2 "
	done
}

@test "Q_ATTEMPT counts the claims: 2 on the second try" {
	id=$(q put -m x jobs)
	q config jobs backoff 0
	run -0 --separate-stderr timeout 20 q work jobs sh -c \
	    'echo "$Q_ATTEMPT" >>"$D/attempts"; [ "$Q_ATTEMPT" -ge 2 ]'
	assert_equal "$(cat "$D/attempts")" $'1\n2'
	assert_equal "$(names jobs done)" "$id,a=2"
	logged_re "^q work: jobs: $id,a=1: exit 1, released"
	logged "q work: jobs: $id,a=2: done"
}

# --- exit status of CMD ------------------------------------------------

@test "Q_TOKEN is the claim token: the ID with a= of this claim, as in done/" {
	id=$(q put -m x jobs)
	q config jobs backoff 0
	run -0 --separate-stderr env Q_TOKEN=inherited timeout 20 q work jobs \
	    sh -c 'printf "%s\n" "$Q_TOKEN" >>"$D/tokens"; [ "$Q_ATTEMPT" -ge 2 ]'
	assert_equal "$(cat "$D/tokens")" "$id,a=1"$'\n'"$id,a=2"
	done=$(names jobs done)
	assert_equal "$done" "$id,a=2"
	assert_equal "$(tail -n 1 "$D/tokens")" "${done%%,*},a=${done##*,a=}"
	logged "q work: jobs: $id,a=2: done"
}

@test "a job can extend its own lease with q touch and Q_TOKEN" {
	id=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work jobs sh -c '
		q touch -l 1h "$Q_QUEUE" "$Q_TOKEN" && ls "$Q_QUEUE/cur" >"$D/cur"'
	l=$(sed -n 's/.*,l=\([0-9]*\),.*/\1/p' "$D/cur")
	[ "$l" -gt "$(($(date +%s) + 3000))" ] || fail "lease not extended: $(cat "$D/cur")"
	assert_equal "$(names jobs done)" "$id,a=1"
	logged "q work: jobs: $id,a=1: done"
}

@test "exit status matrix: 0 done, 100 failed, 75/111 released even when out of attempts, other failed when out of attempts" {
	i0=$(q put -m 0 jobs)
	i100=$(q put -m 100 jobs)
	i75=$(q put -m 75 jobs)
	i111=$(q put -m 111 jobs)
	i3=$(q put -m 3 jobs)
	run -0 --separate-stderr timeout 20 q work -a 1 jobs sh -c 'exit $(cat)'
	now=$(date +%s)
	assert_equal "$(names jobs done)" "$i0,a=1"
	assert_equal "$(names jobs failed)" "$i100,a=1"$'\n'"$i3,a=1"
	assert_equal "$(count jobs new)" 2
	assert_equal "$(count jobs cur)" 0
	d75=$(due_of "$i75" jobs) || fail "75 not in new/ with d=: $(names jobs new)"
	d111=$(due_of "$i111" jobs) || fail "111 not in new/ with d=: $(names jobs new)"
	((d75 > now)) || fail "75: d=$d75 is not in the future ($now)"
	((d111 > now)) || fail "111: d=$d111 is not in the future ($now)"
	assert_equal "$(names jobs new | cut -d, -f1,2)" "$i75,a=1"$'\n'"$i111,a=1"
	logged "q work: jobs: $i0,a=1: done"
	logged_re "^q work: jobs: $i100,a=1: exit 100, moved to failed/"
	logged_re "^q work: jobs: $i75,a=1: exit 75, released"
	logged_re "^q work: jobs: $i111,a=1: exit 111, released"
	logged_re "^q work: jobs: $i3,a=1: exit 3, .*failed/"
}

@test "any other status is retried with backoff; the worker still exits 0" {
	id=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work jobs sh -c 'exit 3'
	now=$(date +%s)
	d=$(due_of "$id" jobs) || fail "not in new/ with d=: $(names jobs new)"
	((d > now)) || fail "d=$d is not in the future ($now)"
	assert_equal "$(count jobs failed)" 0
	assert_equal "$(count jobs cur)" 0
	logged_re "^q work: jobs: $id,a=1: exit 3, released, retry in "
}

@test "exit 100 goes to failed/ at once, whatever the attempts left" {
	id=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work -a 10 jobs sh -c \
	    'echo run >>"$D/runs"; exit 100'
	assert_equal "$(lines_of "$D/runs")" 1
	assert_equal "$(names jobs failed)" "$id,a=1"
	assert_equal "$(count jobs new)" 0
}

@test "a failing CMD is retried until -a claims, then failed/" {
	id=$(q put -m x jobs)
	q config jobs backoff 0
	run -0 --separate-stderr timeout 20 q work -a 3 jobs sh -c \
	    'echo "$Q_ATTEMPT" >>"$D/attempts"; exit 3'
	assert_equal "$(cat "$D/attempts")" $'1\n2\n3'
	assert_equal "$(names jobs failed)" "$id,a=3"
	assert_equal "$(count jobs new)" 0
	assert_equal "$(count jobs cur)" 0
	logged_re "^q work: jobs: $id,a=1: exit 3, released"
	logged_re "^q work: jobs: $id,a=2: exit 3, released"
	logged_re "^q work: jobs: $id,a=3: exit 3, out of attempts.*failed/"
}

@test "the attempts limit comes from the config unless -a is given" {
	a=$(q put -m x jobs)
	q config jobs backoff 0
	q config jobs attempts 2
	run -0 --separate-stderr timeout 20 q work jobs sh -c \
	    'echo "$Q_ATTEMPT" >>"$D/a"; exit 3'
	assert_equal "$(lines_of "$D/a")" 2
	assert_equal "$(names jobs failed)" "$a,a=2"
	b=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work -a 4 jobs sh -c \
	    'echo "$Q_ATTEMPT" >>"$D/b"; exit 3'
	assert_equal "$(lines_of "$D/b")" 4
	assert_equal "$(names jobs failed)" "$a,a=2"$'\n'"$b,a=4"
}

@test "a temporary failure is never failed/, even out of attempts" {
	id=$(q put -m x jobs)
	q take jobs >/dev/null
	mv "$QDIR/jobs/cur/$(names jobs cur)" "$QDIR/jobs/new/$id,a=7"
	run -0 --separate-stderr timeout 20 q work -a 3 jobs sh -c 'exit 111'
	assert_equal "$(count jobs failed)" 0
	d=$(due_of "$id" jobs) || fail "not in new/ with d=: $(names jobs new)"
	assert_equal "$(names jobs new)" "$id,a=8,d=$d"
}

@test "a CMD killed by a signal is retried like a failure" {
	a=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work jobs sh -c 'kill -KILL $$'
	d=$(due_of "$a" jobs) || fail "not in new/ with d=: $(names jobs new)"
	assert_equal "$(names jobs new)" "$a,a=1,d=$d"
	logged_re "^q work: jobs: $a,a=1: killed by signal 9, released"
	# the same on its last attempt: failed/
	b=$(q put -m x other)
	run -0 --separate-stderr timeout 20 q work -a 1 other sh -c 'kill -TERM $$'
	assert_equal "$(names other failed)" "$b,a=1"
	logged_re "^q work: other: $b,a=1: killed by signal 15, .*failed/"
}

@test "CMD's stdout and stderr pass through; -q silences the log" {
	q put -m "the body" jobs >/dev/null
	run -0 --separate-stderr timeout 20 q work jobs sh -c 'cat; echo oops >&2'
	assert_output "the body"
	logged "oops"
	logged_re "^q work: jobs: .*: done$"
	q put -m "again" jobs >/dev/null
	run -0 --separate-stderr timeout 20 q work -q jobs sh -c 'cat'
	assert_output "again"
	assert_equal "$stderr" ""
	assert_equal "$(count jobs done)" 2
}

@test "-q keeps what needs a person: failed/, lost leases, errors" {
	a=$(q put -m a jobs)
	b=$(q put -m b jobs)
	c=$(q put -m c jobs)
	# a is done, b fails for good, c is released once then done
	cat >"$BATS_TEST_TMPDIR/job" <<-'EOF'
		read -r body
		case $body in
		b) exit 100 ;;
		c) [ "$Q_ATTEMPT" -gt 1 ] || exit 75 ;;
		esac
		exit 0
	EOF
	q config jobs backoff 1s
	run -0 --separate-stderr timeout 20 \
		q work -q jobs sh "$BATS_TEST_TMPDIR/job"
	assert_equal "$stderr" "q work: jobs: $b,a=1: exit 100, moved to failed/"
	# an expired claim the worker's sweep returns is a lost lease
	d=$(q put -m d other)
	q take -l 1s other >/dev/null
	sleep 2.1
	run -0 --separate-stderr timeout 20 q work -q other true
	[[ $stderr == "q work: other: $d,a=1,l="*": lease expired, returned" ]] ||
		fail "stderr: $stderr"
	assert_equal "$(names other done)" "$d,a=2"
	# out of attempts, -q or not
	e=$(q put -m e third)
	run -0 --separate-stderr timeout 20 q work -q -a 1 third false
	assert_equal "$stderr" \
		"q work: third: $e,a=1: exit 1, out of attempts (1), moved to failed/"
}

@test "arguments after the queue belong to CMD, with or without --" {
	q put -m x jobs >/dev/null
	q put -m y jobs >/dev/null
	run -0 --separate-stderr timeout 20 q work -n 1 jobs sh -c \
	    'printf "%s\n" "$1" >>"$D/args"' sh -j
	run -0 --separate-stderr timeout 20 q work -n 1 jobs -- sh -c \
	    'printf "%s\n" "$1" >>"$D/args"' sh -n
	assert_equal "$(cat "$D/args")" $'-j\n-n'
	assert_equal "$(count jobs done)" 2
}

@test "the worker sweeps first: an expired claim is returned and run again" {
	id=$(q put -m x jobs)
	q take jobs >/dev/null
	f=$(names jobs cur)
	mv "$QDIR/jobs/cur/$f" "$QDIR/jobs/cur/${f%,l=*},l=1000000000"
	run -0 --separate-stderr timeout 20 q work jobs sh -c \
	    'echo "$Q_ATTEMPT" >>"$D/attempts"'
	assert_equal "$(cat "$D/attempts")" 2
	assert_equal "$(names jobs done)" "$id,a=2"
}

@test "a lease lost while CMD runs: the job is stopped, and nothing is acknowledged" {
	id=$(q put -m x jobs)
	# lease 3s: the worker renews it each second, and learns of the loss
	bgwork -l 3 jobs sh -c '
		trap "touch \"\$D/term\"; exit 0" TERM
		touch "$D/started"
		i=0
		while [ $i -lt 600 ]; do
			sleep 0.05; i=$((i + 1))
		done'
	waitfor [ -e "$D/started" ]
	# an operator takes the message back from under the worker
	q release -d 1h jobs "$id"
	reapworker
	# stopped by the worker with SIGTERM, not left to run its 30 s
	assert_file_exists "$D/term"
	assert_equal "$wstatus" 0
	assert_equal "$(count jobs done)" 0
	assert_equal "$(count jobs cur)" 0
	assert_equal "$(names jobs new | cut -d, -f1,2)" "$id,a=1"
	grep -q "$id,a=1: .*lease was lost" "$LOG" || fail "$(cat "$LOG")"
}

@test "a paused queue: nothing is claimed, the worker exits 0" {
	q put -m x jobs >/dev/null
	q pause jobs
	before=$(snapshot jobs)
	run -0 --separate-stderr timeout 20 q work jobs sh -c 'echo run >>"$D/runs"'
	assert_equal "$(lines_of "$D/runs")" 0
	assert_equal "$(snapshot jobs)" "$before"
	assert_equal "$stderr" "q work: jobs: paused: nothing is claimed until q resume"
}

@test "foreign entries in new/ are never run" {
	mkqueue jobs
	new="$QDIR/jobs/new"
	echo secret >"$BATS_TEST_TMPDIR/secret"
	ln -s "$BATS_TEST_TMPDIR/secret" "$new/1700000000.000001.1_0.host"
	mkfifo "$new/1700000000.000002.1_0.host"
	echo x >"$new/not a message"
	run -0 --separate-stderr timeout 20 q work jobs sh -c 'echo run >>"$D/runs"'
	assert_equal "$(lines_of "$D/runs")" 0
	assert_equal "$(count jobs new)" 3
	assert_equal "$(count jobs cur)" 0
	assert [ -L "$new/1700000000.000001.1_0.host" ]
	assert [ -p "$new/1700000000.000002.1_0.host" ]
}

# --- CMD that cannot run -------------------------------------------------

@test "CMD not found: 127, nothing claimed" {
	q put -m x jobs >/dev/null
	before=$(snapshot jobs)
	run -127 timeout 20 q work jobs no-such-command-here
	assert_output --partial "no-such-command-here"
	assert_equal "$(snapshot jobs)" "$before"
	run -127 timeout 20 q work jobs "$BATS_TEST_TMPDIR/no/such/file"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "CMD without execute permission: 126, nothing claimed" {
	q put -m x jobs >/dev/null
	mkdir "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\nexit 0\n' >"$BATS_TEST_TMPDIR/bin/noexec"
	chmod 644 "$BATS_TEST_TMPDIR/bin/noexec"
	before=$(snapshot jobs)
	run -126 timeout 20 q work jobs "$BATS_TEST_TMPDIR/bin/noexec"
	assert_output --partial "noexec"
	assert_equal "$(snapshot jobs)" "$before"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -126 timeout 20 q work jobs noexec
	assert_equal "$(snapshot jobs)" "$before"
	run -126 timeout 20 q work jobs "$BATS_TEST_TMPDIR/bin"
	assert_equal "$(snapshot jobs)" "$before"
}

# --- -j, -n --------------------------------------------------------------

@test "-j 3 runs up to 3 jobs at once, never more" {
	putn jobs 9
	bgwork -j 3 jobs sh -c '
		touch "$D/run.$Q_ID"
		find "$D" -name "run.*" | wc -l >"$D/seen.$Q_ID"
		i=0
		while [ ! -e "$D/go" ] && [ $i -lt 600 ]; do
			sleep 0.05; i=$((i + 1))
		done
		rm "$D/run.$Q_ID"'
	waitfor atleast 3 markers run.
	assert_equal "$(markers run.)" 3
	assert_equal "$(count jobs cur)" 3
	assert_equal "$(count jobs new)" 6
	touch "$D/go"
	reapworker
	assert_equal "$wstatus" 0
	assert_equal "$(count jobs done)" 9
	assert_equal "$(markers seen.)" 9
	max=$(cat "$D"/seen.* | sort -n | tail -n 1)
	((max <= 3)) || fail "$max jobs ran at once"
	((max > 1)) || fail "never more than one job at once"
}

@test "-n 2 stops after 2 messages" {
	for i in 1 2 3 4 5; do
		ids[i]=$(q put -m "msg $i" jobs)
	done
	run -0 --separate-stderr timeout 20 q work -n 2 jobs sh -c \
	    'echo run >>"$D/runs"'
	assert_equal "$(lines_of "$D/runs")" 2
	assert_equal "$(names jobs done)" "${ids[1]},a=1"$'\n'"${ids[2]},a=1"
	assert_equal "$(names jobs new)" "${ids[3]}"$'\n'"${ids[4]}"$'\n'"${ids[5]}"
	assert_equal "$(count jobs cur)" 0
}

# --- leases and timeouts -------------------------------------------------

@test "a job longer than its lease is renewed and runs exactly once despite sweeps" {
	id=$(q put -m x jobs)
	(
		for ((i = 0; i < 400; i++)); do
			[ -e "$D/stop" ] && break
			timeout 20 q sweep jobs >>"$D/sweeps" 2>&1
			ls "$QDIR/jobs/cur" >>"$D/seen"
			sleep 0.1
		done
	) 3>&- &
	spid=$!
	track "$spid"
	run -0 --separate-stderr timeout 30 q work -l 2 jobs sh -c \
	    'echo run >>"$D/runs"; sleep 5'
	touch "$D/stop"
	waitfor gone "$spid"
	wait "$spid" || true
	assert_equal "$(lines_of "$D/runs")" 1
	assert_equal "$(names jobs done)" "$id,a=1"
	assert_equal "$(count jobs new)" 0
	assert_equal "$(cat "$D/sweeps")" ""
	[[ $stderr != *lease* ]] || fail "worker log: $stderr"
	# the sweeper saw the claim under at least two leases: renewed
	leases=$(grep -c . <(grep -o ',l=[0-9]*' "$D/seen" | sort -u))
	((leases >= 2)) || fail "lease never renewed: $(sort -u "$D/seen")"
}

@test "-t kills a CMD that runs too long, and its process group" {
	id=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work -t 1 jobs sh -c '
		echo $$ >"$D/child"
		sleep 30 &
		echo $! >"$D/grandchild"
		wait'
	child=$(cat "$D/child")
	grandchild=$(cat "$D/grandchild")
	track "$grandchild"
	waitfor gone "$child"
	waitfor gone "$grandchild"
	d=$(due_of "$id" jobs) || fail "not in new/ with d=: $(names jobs new)"
	assert_equal "$(names jobs new)" "$id,a=1,d=$d"
	logged_re "^q work: jobs: $id,a=1: timed out.*released"
}

@test "-t on the last attempt: failed/" {
	id=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work -t 1 -a 1 jobs sh -c \
	    'exec sleep 30'
	assert_equal "$(names jobs failed)" "$id,a=1"
	assert_equal "$(count jobs new)" 0
	logged_re "^q work: jobs: $id,a=1: timed out.*failed/"
}

# --- -f --------------------------------------------------------------------

@test "-f picks up a message put after it started, and exits 0 on SIGTERM" {
	mkqueue jobs
	bgwork -f jobs sh -c 'cat >>"$D/bodies"'
	waitfor idle "$wpid"
	id=$(q put -m late jobs)
	waitfor [ -e "$QDIR/jobs/done/$id,a=1" ]
	assert_equal "$(cat "$D/bodies")" "late"
	alive "$wpid" || fail "the -f worker exited"
	waitfor idle "$wpid"
	kill -TERM "$wpid"
	reapworker
	assert_equal "$wstatus" 0
	grep -Fxq "q work: jobs: $id,a=1: done" "$LOG" || fail "$(cat "$LOG")"
}

@test "-f runs a delayed message when it falls due" {
	q put -m x jobs >/dev/null
	bgwork -f jobs sh -c 'cat >>"$D/bodies"'
	waitfor atleast 1 count jobs done
	waitfor idle "$wpid"
	id=$(q put -d 1 -m later jobs)
	waitfor atleast 2 count jobs done
	assert_equal "$(names jobs done | grep -c "^$id,a=1$")" 1
	kill -TERM "$wpid"
	reapworker
	assert_equal "$wstatus" 0
}

@test "-f watches new/ through one inotify instance, and hears messages put after many scans" {
	mkqueue jobs
	bgwork -f jobs sh -c 'cat >>"$D/bodies"'
	waitfor idle "$wpid"
	for i in 1 2 3; do
		id=$(q put -m "m$i" jobs)
		waitfor [ -e "$QDIR/jobs/done/$id,a=1" ]
		waitfor idle "$wpid"
	done
	n=$(find "/proc/$wpid/fd" -lname 'anon_inode:inotify' | wc -l)
	assert_equal "$n" 1
	assert_equal "$(cat "$D/bodies")" $'m1\nm2\nm3'
	kill -TERM "$wpid"
	reapworker
	assert_equal "$wstatus" 0
}

@test "-f with a backlog: an urgent delayed message runs soon after it falls due, not after the backlog" {
	seq 40 | q put -l jobs >/dev/null
	q put -d 1 -p 0 -m urgent jobs >/dev/null
	bgwork -f jobs sh -c 'b=$(cat); echo "$b" >>"$D/bodies"; sleep 0.1'
	waitfor atleast 41 lines_of "$D/bodies"
	kill -TERM "$wpid"
	reapworker
	# at 0.1 s or more a job, the backlog takes 4 s or more; due at 1 s,
	# it is found by the next look at new/, a second after the last
	at=$(grep -nx urgent "$D/bodies" | cut -d: -f1)
	[ -n "$at" ] && [ "$at" -le 30 ] || fail "urgent ran as job ${at:-never}"
}

# --- signals ---------------------------------------------------------------

@test "SIGTERM: no more claims, the running job completes, exit 0" {
	a=$(q put -m x jobs)
	b=$(q put -m y jobs)
	bgwork jobs sh -c '
		touch "$D/started.$Q_ID"
		i=0
		while [ ! -e "$D/go" ] && [ $i -lt 600 ]; do
			sleep 0.05; i=$((i + 1))
		done
		[ -e "$D/go" ] && touch "$D/finished.$Q_ID"'
	waitfor [ -e "$D/started.$a" ]
	kill -TERM "$wpid"
	waitfor stopping "$wpid"
	alive "$wpid" || fail "the worker did not wait for its job"
	touch "$D/go"
	reapworker
	assert_equal "$wstatus" 0
	assert_file_exists "$D/finished.$a"
	assert_equal "$(names jobs done)" "$a,a=1"
	assert_equal "$(names jobs new)" "$b"
	assert_equal "$(markers started.)" 1
}

@test "SIGINT stops the worker like SIGTERM" {
	env --default-signal=INT true 2>/dev/null ||
		skip "env cannot reset SIGINT here"
	a=$(q put -m x jobs)
	b=$(q put -m y jobs)
	env --default-signal=INT q work jobs sh -c '
		touch "$D/started.$Q_ID"
		i=0
		while [ ! -e "$D/go" ] && [ $i -lt 600 ]; do
			sleep 0.05; i=$((i + 1))
		done' </dev/null >/dev/null 2>"$LOG" 3>&- &
	wpid=$!
	track "$wpid"
	waitfor [ -e "$D/started.$a" ]
	kill -INT "$wpid"
	waitfor stopping "$wpid"
	touch "$D/go"
	reapworker
	assert_equal "$wstatus" 0
	assert_equal "$(names jobs done)" "$a,a=1"
	assert_equal "$(names jobs new)" "$b"
}

@test "a second SIGTERM kills the job and releases its message, even on its last attempt" {
	id=$(q put -m x jobs)
	bgwork -a 1 jobs sh -c '
		echo $$ >"$D/child"
		i=0
		while [ ! -e "$D/go" ] && [ $i -lt 600 ]; do
			sleep 0.05; i=$((i + 1))
		done'
	waitfor [ -s "$D/child" ]
	child=$(cat "$D/child")
	track "$child"
	kill -TERM "$wpid"
	waitfor stopping "$wpid"
	kill -TERM "$wpid"
	reapworker
	assert_equal "$wstatus" 0
	waitfor gone "$child"
	assert_equal "$(count jobs cur)" 0
	assert_equal "$(count jobs failed)" 0
	assert_equal "$(count jobs done)" 0
	assert_equal "$(names jobs new | cut -d, -f1,2)" "$id,a=1"
}

# --- dead workers ----------------------------------------------------------

@test "kill -9 of a worker: sweep returns its claim at once, and the job is gone" {
	id=$(q put -m x jobs)
	bgwork -l 1h jobs sh -c 'echo $$ >"$D/child"; exec sleep 60'
	waitfor [ -s "$D/child" ]
	child=$(cat "$D/child")
	track "$child"
	claim=$(names jobs cur)
	[[ $claim == "$id,a=1,l="*",w=$wpid@"* ]] || fail "claim: $claim"
	kill -KILL "$wpid"
	reapworker
	assert_equal "$wstatus" 137
	run -0 timeout 20 q sweep jobs
	assert_equal "$(names jobs new)" "$id,a=1"
	assert_equal "$(count jobs cur)" 0
	waitfor gone "$child"
}

@test "kill -9 of a worker takes the whole job with it, grandchildren too" {
	q put -m x jobs >/dev/null
	bgwork -l 1h jobs sh -c 'sleep 60 & echo $! >"$D/grandchild"; wait'
	waitfor [ -s "$D/grandchild" ]
	grandchild=$(cat "$D/grandchild")
	track "$grandchild"
	kill -KILL "$wpid"
	reapworker
	# the claim can be returned at once: nothing of the job may still run
	run -0 timeout 20 q sweep jobs
	assert_equal "$(count jobs new)" 1
	waitfor gone "$grandchild"
}

@test "a live worker's claim survives repeated sweeps" {
	q put -m x jobs >/dev/null
	bgwork -l 1h jobs sh -c 'echo $$ >"$D/child"; exec sleep 60'
	waitfor [ -s "$D/child" ]
	track "$(cat "$D/child")"
	before=$(snapshot jobs)
	for i in 1 2 3 4 5; do
		run -0 timeout 20 q sweep jobs
		assert_output ""
	done
	assert_equal "$(snapshot jobs)" "$before"
	assert_equal "$(count jobs cur)" 1
	alive "$wpid" || fail "worker died"
}

@test "a worker in its own PID namespace: its claim survives sweeps while it lives, returns at once when killed" {
	require_root
	unshare --pid --fork --kill-child true 2>/dev/null ||
		skip "unshare --pid --fork does not work here"
	id=$(q put -m x jobs)
	unshare --pid --fork --kill-child \
	    q work -l 1h jobs sh -c 'exec sleep 60' </dev/null \
	    >/dev/null 2>"$LOG" 3>&- &
	upid=$!
	track "$upid"
	waitfor atleast 1 count jobs cur
	claim=$(names jobs cur)
	[[ $claim == "$id,a=1,l="*",w=1@"* ]] || fail "claim: $claim"
	waitfor pgrep -P "$upid" >/dev/null
	wpid=$(pgrep -P "$upid")
	track "$wpid"
	before=$(snapshot jobs)
	for i in 1 2 3; do
		run -0 timeout 20 q sweep jobs
		assert_output ""
	done
	assert_equal "$(snapshot jobs)" "$before"
	kill -KILL "$upid"
	wait "$upid" || true
	waitfor gone "$wpid"
	run -0 timeout 20 q sweep jobs
	assert_equal "$(names jobs new)" "$id,a=1"
	assert_equal "$(count jobs cur)" 0
}

# --- --tag -----------------------------------------------------------------

# Each line of file $1 is "ID<tab>ID <text>": the tag is the ID the job
# printed itself.  Prints the number of lines, fails at the first other.
tagged_right() {
	awk -F '\t' 'NF != 2 || index($2, $1 " ") != 1 {
		print "mistagged line " NR ": " $0; bad = 1; exit }
	    END { if (!bad) print NR; exit bad }' "$1"
}

@test "--tag: two jobs at once, every line of stdout and stderr carries its own ID, none mixed" {
	a=$(q put -m x jobs)
	b=$(q put -m y jobs)
	# both jobs running before either writes; each line in three writes
	run -0 --separate-stderr timeout 20 q work --tag -j 2 jobs sh -c '
		touch "$D/in.$Q_ID"
		i=0
		while [ "$(find "$D" -name "in.*" | wc -l)" -lt 2 ] &&
		    [ $i -lt 200 ]; do
			sleep 0.05; i=$((i + 1))
		done
		i=1
		while [ $i -le 50 ]; do
			printf "%s " "$Q_ID"; printf "out "; printf "%d\n" $i
			printf "%s " "$Q_ID" >&2; printf "err " >&2
			printf "%d\n" $i >&2
			i=$((i + 1))
		done'
	assert_equal "$(markers in.)" 2
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/o"
	grep -v '^q work: ' <<<"$stderr" >"$BATS_TEST_TMPDIR/e"
	run -0 tagged_right "$BATS_TEST_TMPDIR/o"
	assert_output 100
	run -0 tagged_right "$BATS_TEST_TMPDIR/e"
	assert_output 100
	for id in "$a" "$b"; do
		assert_equal "$(grep -c "^$id	$id out " "$BATS_TEST_TMPDIR/o")" 50
		assert_equal "$(grep -c "^$id	$id err " "$BATS_TEST_TMPDIR/e")" 50
		# each job's lines in the order it wrote them
		assert_equal "$(grep "^$id	" "$BATS_TEST_TMPDIR/o" | cut -d' ' -f3 |
		    tr '\n' ' ')" "$(seq 1 50 | tr '\n' ' ')"
	done
	logged "q work: jobs: $a,a=1: done"
	logged "q work: jobs: $b,a=1: done"
}

@test "--tag: a last line without a newline is written with one, on stdout and stderr" {
	id=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work -T jobs sh -c \
	    'printf "first\nno newline"; printf "err\nerr no newline" >&2'
	assert_output "$id	first"$'\n'"$id	no newline"
	logged "$id	err"
	logged "$id	err no newline"
	assert_equal "${stderr_lines[-1]}" "q work: jobs: $id,a=1: done"
}

@test "--tag: a job's output is written while it runs, not when it ends" {
	id=$(q put -m x jobs)
	bgwork -T jobs sh -c '
		echo "first line"
		i=0
		while [ ! -e "$D/go" ] && [ $i -lt 400 ]; do
			sleep 0.05; i=$((i + 1))
		done
		[ -e "$D/go" ] && echo "after go"'
	waitfor grep -Fxq "$id	first line" "$BATS_TEST_TMPDIR/out"
	alive "$wpid" || fail "the worker ended before it was told to go"
	touch "$D/go"
	reapworker
	assert_equal "$wstatus" 0
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" \
	    "$id	first line"$'\n'"$id	after go"
	assert_equal "$(names jobs done)" "$id,a=1"
}

@test "--tag: a job filling its pipe does not stop the worker reading the others" {
	q put -m quiet jobs >/dev/null
	q put -m loud jobs >/dev/null
	# the quiet job waits, silent, for the loud one, which writes far more
	# than a pipe holds before it lets the quiet one go
	run -0 --separate-stderr timeout 20 q work -T -j 2 jobs sh -c '
		if [ "$(cat)" = loud ]; then
			seq 1 200000
			touch "$D/loud-done"
		else
			i=0
			while [ ! -e "$D/loud-done" ] && [ $i -lt 300 ]; do
				sleep 0.05; i=$((i + 1))
			done
			[ -e "$D/loud-done" ] && echo "quiet saw it"
		fi'
	assert_equal "$(grep -c '	quiet saw it$' <<<"$output")" 1
	assert_equal "$(grep -cE '	[0-9]+$' <<<"$output")" 200000
	assert_equal "$(count jobs done)" 2
}

@test "--tag: a line longer than 16384 bytes is cut into tagged lines" {
	id=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work -T jobs sh -c \
	    'head -c 40000 /dev/zero | tr "\0" x; echo; echo end'
	assert_equal "${#lines[@]}" 4
	assert_equal "${lines[0]}" "$id	$(printf 'x%.0s' $(seq 16384))"
	assert_equal "${lines[1]}" "${lines[0]}"
	assert_equal "${lines[2]}" "$id	$(printf 'x%.0s' $(seq 7232))"
	assert_equal "${lines[3]}" "$id	end"
}

@test "--tag: the output of a job killed for its timeout is still written" {
	id=$(q put -m x jobs)
	run -0 --separate-stderr timeout 20 q work -T -t 1 -a 1 jobs sh -c \
	    'echo one; printf partial; printf "err\n" >&2; exec sleep 30'
	assert_output "$id	one"$'\n'"$id	partial"
	logged "$id	err"
	logged "q work: jobs: $id,a=1: timed out after 1s, out of attempts (1), moved to failed/"
}

@test "--tag: a job killed for a lost lease still has its output written" {
	id=$(q put -m x jobs)
	bgwork -T -l 3 jobs sh -c '
		printf "started\nhalf a line"
		touch "$D/started"
		exec sleep 30'
	waitfor [ -e "$D/started" ]
	q release -d 1h jobs "$id"
	reapworker
	assert_equal "$wstatus" 0
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" \
	    "$id	started"$'\n'"$id	half a line"
	grep -q "$id,a=1: .*lease was lost" "$LOG" || fail "$(cat "$LOG")"
}

@test "--tag: jobs write to pipes and have no other descriptor; without it, to the worker's own" {
	q put -m x jobs >/dev/null
	q put -m y jobs >/dev/null
	run -0 --separate-stderr timeout 20 q work -T -j 2 jobs sh -c '
		touch "$D/in.$Q_ID"
		i=0
		while [ "$(find "$D" -name "in.*" | wc -l)" -lt 2 ] &&
		    [ $i -lt 200 ]; do
			sleep 0.05; i=$((i + 1))
		done
		ls -l /proc/self/fd >"$D/fds.$Q_ID"
		o=$(readlink /proc/$$/fd/1 /proc/$$/fd/2)
		printf "%s\n" "$o" >"$D/out.$Q_ID"'
	for f in "$D"/fds.*; do
		fds=$(grep -- ' -> ' "$f" | grep -v -- ' -> /proc/[0-9]*/fd$' |
		    sed 's/.* \([0-9][0-9]*\) -> .*/\1/' | sort -n | tr '\n' ' ')
		assert_equal "$fds" "0 1 2 "
	done
	for f in "$D"/out.*; do
		[[ $(cat "$f") == pipe:*$'\n'pipe:* ]] || fail "not pipes: $(cat "$f")"
	done
	q put -m z jobs >/dev/null
	timeout 20 q work jobs sh -c 'o=$(readlink /proc/$$/fd/1)
	    printf "%s\n" "$o" >"$D/plain"' \
	    >"$BATS_TEST_TMPDIR/stdout" 2>/dev/null
	assert_equal "$(cat "$D/plain")" "$BATS_TEST_TMPDIR/stdout"
}

@test "--tag: when the worker's stdout is closed, the job meets it as without --tag" {
	q put -m x jobs >/dev/null
	# a reader that is gone before the job writes, and a job that writes
	# more than a pipe holds: it ends only by SIGPIPE
	run -0 --separate-stderr bash -c '
		timeout 20 q work -T -a 1 jobs sh -c \
		    "while [ ! -e \"\$D/closed\" ]; do sleep 0.05; done
		    exec seq 1 1000000" | { exec 0<&-; touch "$D/closed"; }'
	assert_equal "$(count jobs failed)" 1
	logged_re "^q work: jobs: .*: killed by signal 13, out of attempts"
}

# --- ps --------------------------------------------------------------------

@test "ps shows what the worker is doing" {
	q put -m x jobs >/dev/null
	bgwork jobs sh -c 'echo $$ >"$D/child"; exec sleep 60' title-marker
	waitfor [ -s "$D/child" ]
	track "$(cat "$D/child")"
	waitfor psargs "$wpid" "1 running"
	run -0 ps -o args= -p "$wpid"
	assert_output --partial "jobs"
	assert_output --partial "1 running"
	refute_output --partial "title-marker"
}

# --- usage -----------------------------------------------------------------

@test "no CMD: 64" {
	q put -m x jobs >/dev/null
	before=$(snapshot jobs)
	run -64 q work jobs
	run -64 q work jobs --
	run -64 q work
	run -64 q work -x jobs true
	assert_equal "$(snapshot jobs)" "$before"
}

@test "bad -j, -l, -n, -a, -t values: 65, nothing claimed" {
	q put -m x jobs >/dev/null
	before=$(snapshot jobs)
	for opt in "-j 0" "-j -1" "-j x" "-l 0" "-l x" "-l 13h" "-l -5" \
	    "-n 0" "-n x" "-n -1" "-a 0" "-a x" "-a -1" "-t x" "-t -1" "-t 5y"; do
		# shellcheck disable=SC2086
		run timeout 20 q work $opt jobs true
		[ "$status" -eq 65 ] || fail "q work $opt: exit $status, not 65"
	done
	assert_equal "$(snapshot jobs)" "$before"
}

@test "missing queue: 66" {
	run -66 timeout 20 q work nosuchqueue true
	assert_output --partial "nosuchqueue"
	assert_not_exist "$QDIR/nosuchqueue"
}

# q work -f on queue $1, not there yet: it says $2 once, waits, and works
# the message a put then makes; SIGTERM stops it with 0.
waits_for() {
	q work -f "$1" -- sh -c 'cat >>"$0"' "$BATS_TEST_TMPDIR/out" \
		2>"$BATS_TEST_TMPDIR/err" 3>&- &
	worker=$!
	for ((i = 0; i < 50; i++)); do
		[ -s "$BATS_TEST_TMPDIR/err" ] && break
		sleep 0.1
	done
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "q work: $1: $2"
	# waiting makes nothing
	if [ -d "$1" ]; then
		assert_equal "$(ls -A "$1")" ""
	else
		assert_not_exist "$QDIR/$1"
	fi
	q put -m hello "$1" >/dev/null
	for ((i = 0; i < 100; i++)); do
		[ "$(cat "$BATS_TEST_TMPDIR/out" 2>/dev/null)" = hello ] && break
		sleep 0.1
	done
	kill -TERM "$worker"
	st=0
	wait "$worker" || st=$?
	assert_equal "$st" 0
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" hello
}

@test "-f on a missing queue waits for it, then works what is put" {
	waits_for nosuch "no such queue yet, waiting for it"
	assert_equal "$(count nosuch done)" 1
}

@test "-f waiting for a missing queue stops at SIGTERM with 0" {
	q work -f -q nosuch true 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	worker=$!
	sleep 0.5
	kill -TERM "$worker"
	st=0
	wait "$worker" || st=$?
	assert_equal "$st" 0
	# -q: the wait is not news
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ""
	assert_not_exist "$QDIR/nosuch"
}

@test "-f on an empty directory (a fresh mount point) waits until a put makes it a queue" {
	mkdir -p "$BATS_TEST_TMPDIR/mnt"
	waits_for "$BATS_TEST_TMPDIR/mnt" "not a queue yet, waiting for it"
	# other commands still call an empty directory what it is
	mkdir "$BATS_TEST_TMPDIR/empty"
	run --separate-stderr -66 q take "$BATS_TEST_TMPDIR/empty"
	assert_equal "$stderr" "q take: $BATS_TEST_TMPDIR/empty: not a queue"
}

@test "-f on a directory that is no queue is still an error" {
	mkdir -p "$BATS_TEST_TMPDIR/plain/x"
	run --separate-stderr -66 timeout 20 q work -f "$BATS_TEST_TMPDIR/plain" true
	assert_equal "$stderr" "q work: $BATS_TEST_TMPDIR/plain: not a queue"
}
