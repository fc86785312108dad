#!/usr/bin/env bats
# Recovery under load (SPEC sections 1 and 3): no sweeper needed, queues of
# a topic independent, interrupted writers leave nothing, liveness that
# nothing but the worker's death can end.  Each case first failed as seen
# by a user; the torture at the end puts them together.

load helper
load process

eval "helper_$(declare -f setup)"

setup() {
	helper_setup
	export D="$BATS_TEST_TMPDIR/d"
	mkdir -p "$D"
	LOG="$BATS_TEST_TMPDIR/log"
}

# Start "q work ARGS..." in the background: pid in $wpid, log in $LOG.
bgwork() {
	q work "$@" </dev/null >/dev/null 2>"$LOG" 3>&- &
	wpid=$!
	track "$wpid"
}

# Wait for background process $1 to exit; its status in $wstatus.
reap() {
	waitfor gone "$1"
	wstatus=0
	wait "$1" || wstatus=$?
}

# Names of the claims in cur/ of queue $1 marked w=$2@.
claims_of() {
	names "$1" cur | grep -F -- ",w=$2@" || true
}

no_claims_of() {
	[ -z "$(claims_of "$1" "$2")" ]
}

# A worker that claims the one message there, $victim, with a long lease
# and a job that runs on; its pid in $dead.
victim_worker() {
	victim=$(q put -m victim jobs)
	bgwork -l 1h jobs sh -c 'echo $$ >"$D/child"; exec sleep 60'
	dead=$wpid
	waitfor [ -s "$D/child" ]
	track "$(cat "$D/child")"
}

# Milliseconds since the epoch.
ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# --- 1. a busy worker sweeps ---------------------------------------------

@test "a busy q work -f returns a killed worker's claim within seconds, while new/ is still full" {
	victim_worker
	# 200 jobs of 0.1 s: 20 s of work for one busy worker
	for i in $(seq 200); do echo "m$i"; done | q put -l jobs >/dev/null
	q work -f -q -l 1h jobs sh -c 'sleep 0.1' </dev/null >/dev/null \
	    2>"$BATS_TEST_TMPDIR/busy.log" 3>&- &
	busy=$!
	track "$busy"
	waitfor atleast 1 count jobs done
	kill -KILL "$dead"
	t0=$(ms)
	d0=$(count jobs done)
	waitfor no_claims_of jobs "$dead"
	t1=$(ms)
	d1=$(count jobs done)
	left=$(count jobs new)
	echo "# death to return, busy sibling: $((t1 - t0)) ms, $((d1 - d0)) jobs done meanwhile, $left still in new/" >&3
	[ "$left" -gt 50 ] || fail "returned only when new/ was nearly empty: $left"
	# a look every Q_RECOVER_MS (2 s): jobs of at least 0.1 s each, one at
	# a time, finish at most 20 of them in the meantime, however slowly
	((d1 - d0 <= 30)) || fail "returned after $((d1 - d0)) jobs, not within seconds"
	# and the busy worker claims it again in its turn
	waitfor eval 'names jobs cur | grep -q "^$victim,a=2," ||
	    names jobs done | grep -q "^$victim,a=2$"'
}

@test "an idle q work -f returns a killed worker's claim and works it" {
	victim_worker
	q work -f -l 1h jobs sh -c 'cat >"$D/again"' </dev/null >/dev/null \
	    2>"$BATS_TEST_TMPDIR/idle.log" 3>&- &
	track $!
	waitfor inpoll $!
	kill -KILL "$dead"
	t0=$(ms)
	waitfor [ -s "$D/again" ]
	t1=$(ms)
	echo "# death to claimed again, idle sibling: $((t1 - t0)) ms" >&3
	assert_equal "$(cat "$D/again")" victim
	waitfor eval '[ "$(names jobs done)" = "$victim,a=2" ]'
	grep -Fq "$victim,a=1,l=" "$BATS_TEST_TMPDIR/idle.log" ||
		fail "the return is not in the log"
}

# --- 2. subscribers of one topic do not block each other ------------------

@test "a topic's message is worked in each subscriber while another holds it" {
	q sub ev b1 >/dev/null
	q sub ev b2 >/dev/null
	id=$(q put -m shared ev)
	# one inode in both queues
	[ "$QDIR/b1/new/$id" -ef "$QDIR/b2/new/$id" ] || fail "not hard links"
	q work -l 1h b1 sh -c 'echo $$ >"$D/child"; exec sleep 60' \
	    </dev/null >/dev/null 2>"$LOG" 3>&- &
	w1=$!
	track "$w1"
	waitfor [ -s "$D/child" ]
	track "$(cat "$D/child")"
	# the other subscriber's worker works it now, not after b1's job
	run -0 timeout 20 q work -q b2 cat
	assert_output shared
	assert_equal "$(names b2 done)" "$id,a=1"
	run -75 timeout 20 q wait -t 1 b2
	# and a dead worker of b2 is noticed although b1's worker lives
	id2=$(q put -m second ev)
	rm -f "$D/child"
	q work -l 1h b2 sh -c 'echo $$ >"$D/child"; exec sleep 60' \
	    </dev/null >/dev/null 2>"$LOG" 3>&- &
	w2=$!
	track "$w2"
	waitfor [ -s "$D/child" ]
	track "$(cat "$D/child")"
	kill -KILL "$w2"
	reap "$w2"
	run -0 timeout 20 q sweep b2
	assert_output --regexp "^b2: cur/$id2,a=1,l=[0-9]+,w=$w2@[^:]*: worker gone, returned to new/$"
	assert_equal "$(names b2 new)" "$id2,a=1"
	assert_equal "$(count b1 cur)" 1
}

@test "while q wait; do q work; done does not spin on a message another subscriber holds" {
	q sub ev b1 >/dev/null
	q sub ev b2 >/dev/null
	q put -m shared ev >/dev/null
	q work -l 1h b1 sh -c 'echo $$ >"$D/child"; exec sleep 60' \
	    </dev/null >/dev/null 2>"$LOG" 3>&- &
	track $!
	waitfor [ -s "$D/child" ]
	track "$(cat "$D/child")"
	run -0 timeout 20 bash -c '
		n=0
		while q wait -t 1 b2 && [ $n -lt 50 ]; do
			q work -q b2 cat >>"$D/out"
			n=$((n + 1))
		done
		echo $n'
	assert_output 1
	assert_equal "$(cat "$D/out")" shared
}

# --- 3 and 10. interrupted and long-lived writers --------------------------

# Start "q put -l jobs" reading from a pipe that stays open, all its
# records in one group that is never due; the put leaves its pid in $ppid,
# and has written $1 records into tmp/.
bgput() {
	local n=$1
	mkfifo "$D/in"
	perl -e '$SIG{INT} = $SIG{TERM} = $SIG{HUP} = "DEFAULT"; exec @ARGV' \
	    q put -l --group 1000000 --linger 3600000 jobs <"$D/in" \
	    >"$D/ids" 2>"$D/err" 3>&- &
	ppid=$!
	track "$ppid"
	exec 5>"$D/in"
	for ((i = 0; i < n; i++)); do echo "record $i" >&5; done
	waitfor atleast "$n" count jobs tmp
}

@test "q put -l interrupted by SIGINT, SIGTERM or SIGHUP removes its tmp/ files and prints no ID" {
	q put -m first jobs >/dev/null
	for sig in INT TERM HUP; do
		rm -f "$D/in"
		bgput 300
		kill -"$sig" "$ppid"
		reap "$ppid"
		exec 5>&-
		assert_equal "$wstatus" $((128 + $(kill -l "$sig")))
		assert_equal "$(count jobs tmp)" 0
		assert_equal "$(count jobs new)" 1
		[ ! -s "$D/ids" ] || fail "$sig: IDs printed: $(head -3 "$D/ids")"
		[ ! -s "$D/err" ] || fail "$sig: $(cat "$D/err")"
	done
}

@test "q put reading one message from a pipe: SIGTERM leaves nothing" {
	mkfifo "$D/in"
	q put jobs <"$D/in" >"$D/ids" 2>"$D/err" 3>&- &
	ppid=$!
	track "$ppid"
	exec 5>"$D/in"
	echo partial >&5
	waitfor atleast 1 count jobs tmp
	kill -TERM "$ppid"
	reap "$ppid"
	exec 5>&-
	assert_equal "$wstatus" 143
	assert_equal "$(count jobs tmp)" 0
	assert_equal "$(count jobs new)" 0
}

@test "a live writer's tmp/ files are never removed, however old; a killed one's at once" {
	q put -m first jobs >/dev/null
	bgput 5
	# 40 hours old by mtime, and the writer still reading
	touch -d '40 hours ago' "$QDIR"/jobs/tmp/*
	run -0 q sweep jobs
	assert_output ""
	assert_equal "$(count jobs tmp)" 5
	kill -KILL "$ppid"
	reap "$ppid"
	exec 5>&-
	assert_equal "$(count jobs tmp)" 5
	run -0 q sweep -n jobs
	assert_equal "${#lines[@]}" 5
	assert_line --partial "writer gone, would remove"
	assert_equal "$(count jobs tmp)" 5
	run -0 q sweep jobs
	assert_equal "${#lines[@]}" 5
	assert_line --regexp "^jobs: tmp/[0-9.]+\.${ppid}_[0-9]+\..*: writer gone, removed$"
	assert_equal "$(count jobs tmp)" 0
	assert_equal "$(count jobs new)" 1
	# its liveness lock went with it; a put's own is gone when it exits
	assert_equal "$(count jobs live)" 0
}

@test "a busy worker removes a killed writer's tmp/ files" {
	bgput 3
	kill -KILL "$ppid"
	reap "$ppid"
	exec 5>&-
	q put -m x jobs >/dev/null
	run -0 timeout 20 q work jobs true
	assert_equal "$(count jobs tmp)" 0
}

# --- 4. SIGHUP ------------------------------------------------------------

@test "SIGHUP stops q work like SIGTERM: the job finishes and is acked" {
	id=$(q put -m x jobs)
	q put -m y jobs >/dev/null
	bgwork -f jobs sh -c '
		echo $$ >"$D/child"
		i=0
		while [ ! -e "$D/go" ] && [ $i -lt 400 ]; do
			sleep 0.05; i=$((i + 1))
		done'
	waitfor [ -s "$D/child" ]
	kill -HUP "$wpid"
	waitfor grep -Fq stopping "$LOG"
	touch "$D/go"
	reap "$wpid"
	assert_equal "$wstatus" 0
	assert_equal "$(names jobs done)" "$id,a=1"
	assert_equal "$(count jobs cur)" 0
	assert_equal "$(count jobs new)" 1
}

@test "under nohup, SIGHUP leaves q work running" {
	q put -m x jobs >/dev/null
	nohup q work -f jobs true </dev/null >/dev/null 2>"$LOG" 3>&- &
	wpid=$!
	track "$wpid"
	waitfor eval '[ "$(count jobs done)" -eq 1 ]'
	kill -HUP "$wpid"
	q put -m y jobs >/dev/null
	waitfor eval '[ "$(count jobs done)" -eq 2 ]'
	alive "$wpid" || fail "SIGHUP stopped it"
	kill -TERM "$wpid"
	reap "$wpid"
	assert_equal "$wstatus" 0
}

# --- 5 and 6. q take --------------------------------------------------------

@test "q take with nothing ready claims an expired lease itself" {
	id=$(q put -m x jobs)
	run -0 q take -l 1 jobs
	assert_output "$id,a=1"
	sleep 2.1
	run -0 q take jobs
	assert_output "$id,a=2"
	assert_equal "$(names jobs cur | cut -d, -f1,2)" "$id,a=2"
}

@test "q take with nothing ready claims a dead worker's claim at once" {
	id=$(q put -m x jobs)
	bgwork -l 1h jobs sh -c 'echo $$ >"$D/child"; exec sleep 60'
	waitfor [ -s "$D/child" ]
	track "$(cat "$D/child")"
	run -75 q take jobs
	kill -KILL "$wpid"
	reap "$wpid"
	run -0 q take jobs
	assert_output "$id,a=2"
}

@test "q take that cannot print its token releases the claim" {
	[ -w /dev/full ] || skip "no /dev/full"
	id=$(q put -m x jobs)
	run -74 --separate-stderr bash -c 'q take jobs >/dev/full'
	assert_equal "$stderr" "q take: stdout: $id,a=1 not handed out, released: No space left on device"
	assert_equal "$(count jobs cur)" 0
	assert_equal "$(names jobs new)" "$id,a=1"
	run -0 q take jobs
	assert_output "$id,a=2"
}

# --- 7. the queue goes away -------------------------------------------------

@test "a worker whose queue directory is removed exits 74 and says so" {
	q put -m x jobs >/dev/null
	run -0 timeout 20 q work jobs true
	bgwork -f jobs true
	waitfor inpoll "$wpid"
	rm -rf "${QDIR:?}/jobs"
	reap "$wpid"
	assert_equal "$wstatus" 74
	assert_equal "$(cat "$LOG")" "q work: jobs: the queue directory was removed; stopping"
}

@test "a worker whose queue is replaced by another exits 74 and leaves the new one alone" {
	q put -m x jobs >/dev/null
	run -0 timeout 20 q work jobs true
	bgwork -f jobs true
	waitfor inpoll "$wpid"
	mv "$QDIR/jobs" "$QDIR/old"
	id=$(q put -m y jobs)
	reap "$wpid"
	assert_equal "$wstatus" 74
	run cat "$LOG"
	assert_output --regexp "^q work: jobs: (the queue directory was removed|another directory took the queue's place); stopping$"
	assert_equal "$(names jobs new)" "$id"
}

# --- 8. the job cannot end its worker's liveness ---------------------------

@test "a job that unlocks its stdin cannot make its live worker look dead" {
	id=$(q put -m x jobs)
	bgwork -l 1h jobs sh -c '
		flock -u 0
		echo $$ >"$D/child"; exec sleep 60'
	waitfor [ -s "$D/child" ]
	track "$(cat "$D/child")"
	before=$(snapshot jobs)
	for i in 1 2 3; do
		run -0 timeout 20 q sweep jobs
		assert_output ""
	done
	run -75 q take jobs
	assert_equal "$(snapshot jobs)" "$before"
	claims_of jobs "$wpid" | grep -q "^$id,a=1," || fail "claim gone"
}

@test "the job's stdin is an open of its own, not the worker's" {
	q put -m x jobs >/dev/null
	bgwork -l 1h jobs sh -c '
		readlink /proc/$PPID/fd/* >"$D/worker" 2>/dev/null
		echo $$ >"$D/child"; exec sleep 60'
	waitfor [ -s "$D/child" ]
	track "$(cat "$D/child")"
	# the worker holds no descriptor of the message; its lock is in live/
	run grep -c "/cur/" "$D/worker"
	assert_output 0
	grep -q "/live/$wpid@" "$D/worker" || fail "no liveness lock: $(cat "$D/worker")"
}

# --- 9. clocks --------------------------------------------------------------

@test "a sweep with the clock 10 minutes ahead leaves a renewing worker's claim alone" {
	require_faketime
	id=$(q put -m x jobs)
	bgwork -l 5m jobs sh -c 'echo $$ >"$D/child"; exec sleep 60'
	waitfor [ -s "$D/child" ]
	track "$(cat "$D/child")"
	before=$(snapshot jobs)
	run -0 faketime -f +10m q sweep jobs
	assert_output ""
	run -75 faketime -f +10m q take jobs
	assert_equal "$(snapshot jobs)" "$before"
	# a claim without a live worker behind it does expire that way
	id2=$(q put -m y other)
	q take -l 5m other >/dev/null
	claim=$(names other cur)
	run -0 faketime -f +10m q sweep other
	assert_output "other: cur/$claim: lease expired, returned to new/"
	assert_equal "$(names other new)" "$id2,a=1"
}

@test "a hung (stopped) worker loses its claim once its lease and heartbeat are old" {
	id=$(q put -m x jobs)
	bgwork -n 1 -l 2 jobs sh -c 'echo $$ >"$D/child"; exec sleep 60'
	waitfor [ -s "$D/child" ]
	child=$(cat "$D/child")
	track "$child"
	kill -STOP "$wpid"
	run -0 q sweep jobs
	assert_output ""
	# lease 2 s, heartbeat late by more than lease + 2 s: within 8 s
	waitfor eval 'q sweep jobs | grep -q "lease expired, returned"'
	assert_equal "$(names jobs new)" "$id,a=1"
	kill -CONT "$wpid"
	# it learns that it lost the lease, and stops the job
	waitfor gone "$child"
	reap "$wpid"
	grep -Fq "lease lost while running" "$LOG" || fail "$(cat "$LOG")"
}

@test "a new worker with a dead worker's PID returns that worker's claims at its start" {
	require_root
	unshare --pid --fork --kill-child true 2>/dev/null ||
		skip "unshare --pid --fork does not work here"
	id=$(q put -m x jobs)
	host=$(q put -m probe probe)
	host=${host#*_*.}
	# a worker that was PID 1 in its namespace died with a claim
	mv "$QDIR/jobs/new/$id" \
	    "$QDIR/jobs/cur/$id,a=1,l=$(($(date +%s) + 3000)),w=1@$host"
	# a new one, PID 1 in a namespace of its own, holds 1@HOST now
	unshare --pid --fork --kill-child q work -f -l 1h jobs \
	    sh -c 'cat >"$D/got"; exec sleep 60' </dev/null >/dev/null \
	    2>"$LOG" 3>&- &
	upid=$!
	track "$upid"
	waitfor [ -s "$D/got" ]
	assert_equal "$(cat "$D/got")" x
	claims_of jobs 1 | grep -q "^$id,a=2," || fail "$(names jobs cur)"
	grep -Fq "$id,a=1,l=" "$LOG" || fail "$(cat "$LOG")"
	# its own claim (w=1@HOST too) is safe from other sweepers
	run -0 timeout 20 q sweep jobs
	assert_output ""
}

# --- all of it at once --------------------------------------------------------

# Start torture worker $1 (slot 0-5, two per subscriber queue s1-s3).
# Each job records its ID and its worker's pid, passed as TW (the job's
# parent may already be another when its worker was killed), then sleeps
# 5 ms, so that the run lasts long enough for its kills on any machine.
tworker() {
	TQUEUE=s$(($1 / 2 + 1)) sh -c 'TW=$$ exec q work -f -q -l "$LEASE" \
	    "$TQUEUE" sh -c '"'"'echo "$Q_ID $TW" >>"$R/${Q_QUEUE##*/}.log"
	    sleep 0.005'"'" \
	    </dev/null >/dev/null 2>>"$R/work.err" 3>&- &
	W[$1]=$!
	track "$!"
	disown "$!"
}

# Are all three subscriber queues done with all N messages?
alldone() {
	local b f
	for b in s1 s2 s3; do
		f=("$QDIR/$b"/done/*)
		[ "${#f[@]}" -eq "$N" ] || return 1
	done
}

@test "torture: a topic with 3 subscribers, 2 workers each killed at random: all delivered everywhere, duplicates only from kills, dead claims back within lease + 5 s" {
	export R="$BATS_TEST_TMPDIR/t" LEASE=3 N=2000
	local -A killedat=()
	local -a restart=()
	local k pid now b f w age maxage=0 seen=0 kills=0 it=0 end nextkill live
	mkdir -p "$R"
	: >"$R/killed"
	for b in s1 s2 s3; do q sub ev "$b" >/dev/null; done
	seq "$N" | q put -l ev >/dev/null
	W=()
	for k in 0 1 2 3 4 5; do tworker "$k"; done
	end=$(($(ms) + 80000))
	nextkill=$(($(ms) + 300))
	while now=$(ms) && [ "$now" -lt "$end" ]; do
		if ((it++ % 10 == 0)) && alldone; then
			break
		fi
		if [ "$now" -ge "$nextkill" ] && [ "$kills" -lt 20 ]; then
			# one of the workers that run
			live=()
			for k in 0 1 2 3 4 5; do
				[ -n "${restart[k]:-}" ] || live+=("$k")
			done
			if [ "${#live[@]}" -gt 0 ]; then
				k=${live[RANDOM % ${#live[@]}]}
				pid=${W[k]}
				kill -KILL "$pid"
				killedat[$pid]=$now
				echo "$pid" >>"$R/killed"
				kills=$((kills + 1))
				# its sibling alone must see to its claims for
				# a while (a new worker sweeps when it starts)
				restart[k]=$((now + 3000))
			fi
			nextkill=$((now + 150 + RANDOM % 400))
		fi
		for k in "${!restart[@]}"; do
			if [ "$now" -ge "${restart[k]}" ]; then
				unset "restart[$k]"
				tworker "$k"
			fi
		done
		# how long claims of killed workers stay in cur/
		for b in s1 s2 s3; do
			for f in "$QDIR/$b"/cur/*; do
				[[ $f == *,w=*@* ]] || continue
				w=${f##*,w=}
				w=${w%@*}
				[ -n "${killedat[$w]:-}" ] || continue
				age=$(($(ms) - killedat[$w]))
				seen=$((seen + 1))
				[ "$age" -le "$maxage" ] || maxage=$age
			done
		done
		sleep 0.05
	done
	for k in "${!restart[@]}"; do tworker "$k"; done
	waitfor alldone
	for k in 0 1 2 3 4 5; do kill -TERM "${W[k]}"; done
	for k in 0 1 2 3 4 5; do waitfor gone "${W[k]}"; done
	echo "# $kills kills, claims of dead workers seen $seen times, at most $maxage ms after the kill" >&3
	[ "$kills" -ge 10 ] || fail "only $kills kills"
	[ "$seen" -gt 0 ] || fail "no kill ever left a claim behind"
	[ "$maxage" -le $(((LEASE + 5) * 1000)) ] ||
		fail "a dead worker's claim stayed $maxage ms"
	local dups=0 d
	for b in s1 s2 s3; do
		assert_equal "$(count "$b" done)" "$N"
		assert_equal "$(count "$b" new)" 0
		assert_equal "$(count "$b" cur)" 0
		assert_equal "$(count "$b" tmp)" 0
		assert_equal "$(count "$b" failed)" 0
		assert_equal "$(cut -d' ' -f1 "$R/$b.log" | sort -u | wc -l)" "$N"
		d=$(($(wc -l <"$R/$b.log") - N))
		dups=$((dups + d))
		# an ID run k times: at least k - 1 of the runs by killed workers
		run awk 'NR == FNR { killed[$1] = 1; next }
			{ n[$1]++; if ($2 in killed) k[$1]++ }
			END { for (i in n) if (n[i] - 1 > k[i] + 0) print i }' \
		    "$R/killed" "$R/$b.log"
		assert_output ""
	done
	echo "# duplicates: $dups (each killed worker held at most one claim)" >&3
	[ "$dups" -le "$kills" ] || fail "$dups duplicates from $kills kills"
	# -q keeps the returns of killed workers' claims; nothing else
	grep -v -E ': (its worker is gone|lease expired), returned$' "$R/work.err" \
	    >"$R/work.bad" || true
	[ ! -s "$R/work.bad" ] || fail "$(head "$R/work.bad")"
}
