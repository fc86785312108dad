#!/usr/bin/env bats
# q work -b N: up to N ready messages to one run of CMD, as /dev/fd paths
# in its arguments, their IDs in Q_IDS; the exit status acts on them all
# (q(1) work, SPEC section 3).

load helper
load process

eval "helper_$(declare -f setup)"

setup() {
	helper_setup
	export D="$BATS_TEST_TMPDIR/d"
	mkdir -p "$D"
	LOG="$BATS_TEST_TMPDIR/log"
}

# A job that records each run in $D: its arguments, Q_IDS, Q_TOKENS, the
# messages it read, what its stdin held, then exits ${EXIT:-0}.
job() {
	cat >"$D/job" <<'EOF'
#!/bin/bash
n=$(ls "$D" | grep -c '\.env$' || true)
r="$D/run.$n"
{
	echo "args: $*"
	echo "ids: $Q_IDS"
	echo "tokens: $Q_TOKENS"
	echo "id: ${Q_ID-unset}"
	echo "stdin: $(wc -c)"
} >"$r.env"
for f in "${@:2}"; do cat "$f"; done >"$r.body"
exit "${EXIT:-0}"
EOF
	chmod +x "$D/job"
}

@test "-b 3 hands up to 3 messages to a run: /dev/fd paths after CMD's own arguments, IDs in Q_IDS" {
	putn jobs 7
	job
	run --separate-stderr -0 timeout 20 q work -b 3 jobs -- "$D/job" first
	# 7 ready messages: runs of 3, 3 and 1, in the order of claims
	assert_equal "$(ls "$D" | grep -c '\.env$')" 3
	assert_equal "$(sed -n 's/^args: //p' "$D/run.0.env")" "first /dev/fd/3 /dev/fd/4 /dev/fd/5"
	assert_equal "$(sed -n 's/^args: //p' "$D/run.2.env")" "first /dev/fd/3"
	assert_equal "$(cat "$D"/run.*.body)" "$(printf 'msg %d\n' 1 2 3 4 5 6 7)"
	# Q_IDS lists the messages in the order of the paths
	ids=$(sed -n 's/^ids: //p' "$D/run.0.env")
	set -- $ids
	assert_equal "$#" 3
	for k in 1 2 3; do
		id=${!k}
		assert_equal "$(cat "$(qpath jobs)/done/$id",*)" "msg $k"
	done
	# each token is its ID and claim count; Q_ID only for a run of one
	assert_equal "$(sed -n 's/^tokens: //p' "$D/run.0.env")" "$1,a=1 $2,a=1 $3,a=1"
	assert_equal "$(sed -n 's/^id: //p' "$D/run.0.env")" unset
	assert_equal "$(sed -n 's/^id: //p' "$D/run.2.env")" "$(sed -n 's/^ids: //p' "$D/run.2.env")"
	# stdin is empty: the messages are the arguments
	assert_equal "$(sed -n 's/^stdin: //p' "$D/run.0.env")" 0
	assert_equal "$(count jobs done)" 7
	assert_equal "$(count jobs cur)" 0
	# one line of the log per message, as without -b
	assert_equal "$(grep -c ': done$' <<<"$stderr")" 7
}

@test "-b does not wait to fill a batch: a run starts with what is ready" {
	putn jobs 2
	job
	q work -f -b 50 jobs -- "$D/job" x </dev/null >/dev/null 2>"$LOG" &
	wpid=$!
	track "$wpid"
	waitfor test -s "$D/run.0.body"
	waitfor test "$(count jobs done)" -eq 2
	assert_equal "$(sed -n 's/^args: //p' "$D/run.0.env")" "x /dev/fd/3 /dev/fd/4"
	# one more put while it waits: a run of one
	q put -m late jobs >/dev/null
	waitfor test -s "$D/run.1.body"
	assert_equal "$(cat "$D/run.1.body")" late
	kill -TERM "$wpid"
	wait "$wpid"
}

@test "-b: exit 75 releases the whole batch, exit 100 fails it, another status retries it until attempts" {
	putn jobs 3
	job
	EXIT=75 run --separate-stderr -0 timeout 20 q work -b 5 jobs -- "$D/job" x
	assert_equal "$(count jobs new)" 3
	assert_equal "$(ls "$(qpath jobs)/new" | grep -c ',a=1,d=')" 3
	assert_equal "$(grep -c 'exit 75, released' <<<"$stderr")" 3

	rm -rf "$(qpath jobs)"
	putn jobs 3
	EXIT=100 run --separate-stderr -0 timeout 20 q work -b 5 jobs -- "$D/job" x
	assert_equal "$(count jobs failed)" 3
	assert_equal "$(grep -c 'exit 100, moved to failed/' <<<"$stderr")" 3

	rm -rf "$(qpath jobs)"
	putn jobs 3
	EXIT=1 run --separate-stderr -0 timeout 20 q work -a 1 -b 5 jobs -- "$D/job" x
	assert_equal "$(count jobs failed)" 3
	assert_equal "$(grep -c 'exit 1, out of attempts (1), moved to failed/' <<<"$stderr")" 3
}

@test "-b keeps the leases of every message of a run alive, and the paths stay good across renewals" {
	putn jobs 3
	cat >"$D/job" <<'EOF'
#!/bin/sh
touch "$D/started"
sleep 4
cat "$@" >"$D/body"
EOF
	chmod +x "$D/job"
	q work -l 1s -b 3 jobs -- "$D/job" </dev/null >/dev/null 2>"$LOG" &
	wpid=$!
	track "$wpid"
	waitfor test -e "$D/started"
	sleep 2.5
	# every lease of 1s was renewed: a sweep now returns nothing
	run -0 q sweep -v jobs
	assert_equal "$(count jobs cur)" 3
	assert_equal "$(count jobs new)" 0
	wait "$wpid"
	# the files were renamed by each renewal; the job read them all
	assert_equal "$(cat "$D/body")" "$(printf 'msg %d\n' 1 2 3)"
	assert_equal "$(count jobs done)" 3
}

@test "-b: a message of the run whose lease is lost stops the run; the others go back at once" {
	putn jobs 3
	cat >"$D/job" <<'EOF'
#!/bin/sh
# somebody else finishes the first message while the run holds it
q ack jobs "${Q_TOKENS%% *}"
touch "$D/acked"
sleep 30
EOF
	chmod +x "$D/job"
	run --separate-stderr -0 timeout 30 q work -n 3 -l 1s -b 3 jobs -- "$D/job"
	assert [ -e "$D/acked" ]
	assert_equal "$(count jobs done)" 1
	assert_equal "$(count jobs new)" 2
	assert_equal "$(count jobs cur)" 0
	assert_equal "$(grep -c 'lease lost while running: claimed elsewhere; stopping it' <<<"$stderr")" 1
	assert_equal "$(grep -c 'stopped: the lease of another message of its batch was lost, released' <<<"$stderr")" 2
	# not the messages' fault: they are ready again at once
	assert_equal "$(ls "$(qpath jobs)/new" | grep -c ',d=')" 0
	q work jobs -- true 2>/dev/null
	assert_equal "$(count jobs done)" 3
}

@test "-b: kill -9 of the worker mid-run: the run is killed, a sweep returns every message" {
	putn jobs 3
	cat >"$D/job" <<'EOF'
#!/bin/sh
echo $$ >"$D/pid"
sleep 60
EOF
	chmod +x "$D/job"
	q work -b 3 jobs -- "$D/job" </dev/null >/dev/null 2>"$LOG" &
	wpid=$!
	track "$wpid"
	waitfor test -s "$D/pid"
	kill -9 "$wpid"
	waitfor gone "$(cat "$D/pid")"
	run -0 q sweep jobs
	assert_equal "$(count jobs new)" 3
	assert_equal "$(count jobs cur)" 0
}

@test "-n counts messages with -b" {
	putn jobs 5
	job
	run --separate-stderr -0 timeout 20 q work -n 3 -b 2 jobs -- "$D/job" x
	assert_equal "$(count jobs done)" 3
	assert_equal "$(count jobs new)" 2
	assert_equal "$(sed -n 's/^args: //p' "$D/run.0.env")" "x /dev/fd/3 /dev/fd/4"
	assert_equal "$(sed -n 's/^args: //p' "$D/run.1.env")" "x /dev/fd/3"
}

@test "-b takes 1 to 1000, and not with -T" {
	putn jobs 1
	before=$(snapshot jobs)
	for bad in 0 1001 x -1; do
		run --separate-stderr -65 q work -b "$bad" jobs -- true
		assert_equal "$stderr" "q work: invalid batch: $bad"
	done
	run --separate-stderr -64 q work -T -b 2 jobs -- true
	assert_equal "${stderr_lines[0]}" "q work: -T tags a job's output with its message: not with -b"
	assert_equal "$(snapshot jobs)" "$before"
}
