#!/usr/bin/env bats
# Answers that stay true while other commands run (SPEC section 2, "Claim
# tokens" and "Answers stay true while other commands run"): tokens never
# reused, lookups that never miss, pause and leases at the moment of the
# claim, rm of a message claimed meanwhile.

load helper
load process

# Fill cur/ of queue $1 with $2 claims of a far lease, in one process.
manyclaims() {
	local i
	for ((i = 0; i < $2; i++)); do echo "filler $i"; done |
		q put -l --no-sync "$1" >/dev/null
	(cd "$QDIR/$1" && perl -e '
		my $l = time + 3600;
		for my $f (glob "new/*") {
			(my $n = $f) =~ s{^new/}{};
			rename $f, "cur/$n,a=1,l=$l" or die "$f: $!";
		}')
}

# --- tokens -----------------------------------------------------------------

@test "a stale token never acts on a later claim made after retry" {
	id=$(q put -m x jobs)
	t1=$(q take -l 1 jobs)
	sleep 2.1
	q sweep jobs >/dev/null
	t2=$(q take jobs)
	q fail jobs "$t2"
	q retry jobs -a
	t3=$(q take -l 1h jobs)
	[ "$t3" != "$t1" ] || fail "token $t1 given twice"
	[ "$t3" != "$t2" ] || fail "token $t2 given twice"
	before=$(snapshot jobs)
	run -66 q release jobs "$t1"
	run -66 q ack jobs "$t1"
	run -66 q fail jobs "$t2"
	run -66 q touch jobs "$t1"
	assert_equal "$(snapshot jobs)" "$before"
	run -75 q take jobs
	run -0 q ack jobs "$t3"
}

@test "a stale token never acts on a later claim made after replay" {
	id=$(q put -m x jobs)
	t1=$(q take jobs)
	q ack jobs "$t1"
	q replay jobs "$id"
	t2=$(q take -l 1h jobs)
	[ "$t2" != "$t1" ] || fail "token $t1 given twice"
	run -66 q ack jobs "$t1"
	assert_equal "$(count jobs cur)" 1
	assert_equal "$(count jobs done)" 0
	run -0 q ack jobs "$t2"
	assert_equal "$(count jobs done)" 1
}

@test "a retried message starts its attempt budget again" {
	id=$(q put -m x jobs)
	q config jobs attempts 2 >/dev/null
	q config jobs backoff 0 >/dev/null
	run -0 timeout 20 q work jobs false
	assert_equal "$(names jobs failed)" "$id,a=2"
	q retry jobs "$id"
	run -0 timeout 20 q work jobs sh -c \
	    'echo "$Q_ATTEMPT" >>"$BATS_TEST_TMPDIR/a"; exit 1'
	assert_equal "$(cat "$BATS_TEST_TMPDIR/a")" "1
2"
	assert_equal "$(names jobs failed)" "$id,a=4,b=2"
}

# --- lookups ------------------------------------------------------------------

@test "a lookup by token never misses a claim whose lease is renewed meanwhile" {
	manyclaims jobs 4000
	q put -m target jobs >/dev/null
	t=$(q take -l 1h jobs)
	# renewals every 2 ms: the claim renamed again and again
	(cd "$QDIR/jobs/cur" && exec perl -e '
		my ($t) = @ARGV;
		my ($cur) = grep { index($_, "$t,") == 0 } glob "*";
		my $l = time + 3600;
		while (1) {
			$l = $l == time + 3600 ? time + 3601 : time + 3600;
			(my $n = $cur) =~ s/,l=\d+/,l=$l/;
			next if $n eq $cur;
			rename $cur, $n or exit 0;
			$cur = $n;
			select undef, undef, undef, 0.002;
		}' "$t") &
	hb=$!
	track "$hb"
	miss=0
	for ((i = 0; i < 300; i++)); do
		q cat jobs "$t" >/dev/null 2>>"$BATS_TEST_TMPDIR/err" ||
			miss=$((miss + 1))
	done
	kill "$hb"
	wait "$hb" || true
	[ "$miss" -eq 0 ] || fail "$miss of 300 missed: $(sort -u "$BATS_TEST_TMPDIR/err")"
	# and ack finds it, with a q touch heartbeat beside it
	( while q touch -l 1h jobs "$t" >/dev/null 2>&1; do :; done ) &
	hb=$!
	track "$hb"
	run -0 q ack jobs "$t"
	assert_equal "$(count jobs done)" 1
}

@test "rm of a message claimed meanwhile says it is claimed" {
	require_strace
	id=$(q put -m x jobs)
	# hold rm at its unlink; claim the message meanwhile
	strace -qq -f -o /dev/null -E ASAN_OPTIONS=detect_leaks=0 -e inject=unlinkat:delay_enter=1500000:when=1 \
	    q rm jobs "$id" 2>"$BATS_TEST_TMPDIR/err" &
	rm_pid=$!
	sleep 0.5
	t=$(q take jobs)
	st=0
	wait "$rm_pid" || st=$?
	assert_equal "$st" 66
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "q rm: jobs: $id: claimed; ack, release or fail it first"
	assert_equal "$(names jobs cur | cut -d, -f1,2)" "$t"
}

# --- pause and leases at the moment of the claim ------------------------------

@test "after q pause returns, no claim completes" {
	require_strace
	id=$(q put -m x jobs)
	strace -qq -f -o /dev/null -E ASAN_OPTIONS=detect_leaks=0 -e inject=renameat2:delay_enter=1500000:when=1 \
	    q take jobs >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	tpid=$!
	sleep 0.5
	q pause jobs
	st=0
	wait "$tpid" || st=$?
	assert_equal "$st" 75
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" ""
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "q take: jobs: paused"
	assert_equal "$(names jobs new)" "$id"
	assert_equal "$(count jobs cur)" 0
}

@test "a claim's lease counts from the moment it is made, however long the look took" {
	require_strace
	q put -m x jobs >/dev/null
	# the scan of new/ held for 2.5 s, then a claim with a 1 s lease
	strace -qq -f -o /dev/null -E ASAN_OPTIONS=detect_leaks=0 -e inject=getdents64:delay_enter=2500000:when=1 \
	    q take -l 1 jobs >"$BATS_TEST_TMPDIR/out"
	now=$(date +%s)
	l=$(names jobs cur | sed 's/.*,l=\([0-9]*\).*/\1/')
	[ "$l" -ge "$now" ] || fail "born expired: l=$l at $now"
	run -0 q sweep jobs
	assert_output ""
}

# --- config -------------------------------------------------------------------

@test "two q config writers at once both keep their change" {
	q put -m x jobs >/dev/null
	lost=0
	for round in $(seq 60); do
		q config jobs lease 5m >/dev/null
		q config jobs attempts 5 >/dev/null
		q config jobs lease 7m >/dev/null &
		a=$!
		q config jobs attempts 9 >/dev/null &
		b=$!
		wait "$a"
		wait "$b"
		[ "$(q config jobs lease)" = 7m ] || lost=$((lost + 1))
		[ "$(q config jobs attempts)" = 9 ] || lost=$((lost + 1))
	done
	[ "$lost" -eq 0 ] || fail "$lost changes of 120 lost in $round rounds"
}

@test "a running worker follows q config: keep-done, lease and attempts" {
	q put -m first jobs >/dev/null
	export D=$BATS_TEST_TMPDIR
	q work -f jobs sh -c 'b=$(cat); echo "$b" >>"$D/out"; [ "$b" != slow ] || exec sleep 60' \
	    </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/log" 3>&- &
	wpid=$!
	track "$wpid"
	waitfor eval '[ "$(count jobs done)" -eq 1 ]'
	q config jobs keep-done 0 >/dev/null
	q config jobs lease 7m >/dev/null
	q put -m second jobs >/dev/null
	waitfor grep -q second "$D/out"
	waitfor eval '[ "$(count jobs cur)" -eq 0 ]'
	# acknowledged, and deleted on ack as keep-done 0 says
	assert_equal "$(count jobs done)" 1
	assert_equal "$(count jobs new)" 0
	# its claims take the new lease
	q put -m slow jobs >/dev/null
	waitfor eval '[ "$(count jobs cur)" -eq 1 ]'
	l=$(names jobs cur | sed 's/.*,l=\([0-9]*\).*/\1/')
	now=$(date +%s)
	[ $((l - now)) -gt 400 ] || fail "lease $((l - now)) s, not 7m"
}

# --- topics -------------------------------------------------------------------

@test "a put to a topic succeeds while another subscriber is unsubscribed and subscribed again" {
	q sub ev s1 >/dev/null
	q sub ev s2 >/dev/null
	( while :; do q unsub ev s1 2>/dev/null; q sub ev s1 >/dev/null 2>&1; done ) &
	flip=$!
	track "$flip"
	bad=0
	for ((i = 0; i < 300; i++)); do
		q put -m "m$i" ev >/dev/null 2>>"$BATS_TEST_TMPDIR/err" ||
			bad=$((bad + 1))
	done
	kill "$flip"
	wait "$flip" || true
	[ "$bad" -eq 0 ] || fail "$bad of 300 puts failed: $(sort -u "$BATS_TEST_TMPDIR/err" | head -3)"
	assert_equal "$(count s2 new)" 300
}

# --- lost leases ----------------------------------------------------------------

@test "a worker that loses its lease stops the job: SIGTERM to its group" {
	id=$(q put -m x jobs)
	export D=$BATS_TEST_TMPDIR
	q work -n 1 -l 3 jobs sh -c 'echo $$ >"$D/child"; sleep 60 & wait' \
	    </dev/null >/dev/null 2>"$D/log" 3>&- &
	wpid=$!
	track "$wpid"
	waitfor [ -s "$D/child" ]
	child=$(cat "$D/child")
	track "$child"
	# an operator takes the message back meanwhile
	q release jobs "$id"
	waitfor gone "$child"
	waitfor gone "$wpid"
	grep -Eq "jobs: $id,a=1: lease lost while running: claimed elsewhere; stopping it" "$D/log" ||
		fail "$(cat "$D/log")"
	assert_equal "$(names jobs new)" "$id,a=1"
}

# --- all of it at once ----------------------------------------------------------

# A taker: claims with a 2 s lease and acts on its token at once (prompt:
# must be accepted) or after 2.5 s (late: the lease may be gone), logging
# TAKE TIME TOKEN after each claim and OP TIME OP TOKEN STATUS KIND, the
# time taken before the command started.
taker() {
	local t op kind st
	while [ ! -e "$R/stop" ]; do
		t=$(q take -l 2 jobs 2>/dev/null) || { sleep 0.05; continue; }
		echo "TAKE $EPOCHREALTIME $t"
		kind=prompt
		if ((RANDOM % 3 == 0)); then
			kind=late
			sleep 2.5
		fi
		# a heartbeat first, sometimes
		if ((RANDOM % 2)); then
			st=0
			now=$EPOCHREALTIME
			q touch -l 2 jobs "$t" 2>/dev/null || st=$?
			echo "OP $now touch $t $st $kind"
		fi
		case $((RANDOM % 4)) in
		0 | 1) op=ack ;;
		2) op=release ;;
		3) op=fail ;;
		esac
		st=0
		now=$EPOCHREALTIME
		q "$op" jobs "$t" 2>/dev/null || st=$?
		echo "OP $now $op $t $st $kind"
	done
}

@test "stress: takers with late tokens, heartbeats, a sweeper, retry, replay and config writers at once" {
	local pids=()
	export R="$BATS_TEST_TMPDIR/s"
	mkdir -p "$R"
	seq 300 | q put -l jobs >/dev/null
	q config jobs backoff 0 >/dev/null
	q config jobs attempts 1000 >/dev/null
	for k in 1 2 3 4 5 6; do
		taker >"$R/taker.$k" &
		track $!
		pids+=($!)
	done
	( while [ ! -e "$R/stop" ]; do q sweep jobs >/dev/null; sleep 0.2; done ) &
	track $!
	pids+=($!)
	( while [ ! -e "$R/stop" ]; do
		q retry jobs -a
		q replay -s 2s jobs
		q config jobs lease "$((RANDOM % 9 + 1))m" >/dev/null
		q config jobs keep-failed 1d >/dev/null
		sleep 0.3
	done ) 2>"$R/operator.err" &
	track $!
	pids+=($!)
	sleep 20
	touch "$R/stop"
	# these only: with BATS_TEST_TIMEOUT bats has a timer child too
	wait "${pids[@]}"
	# the rest: leases run out, a sweep, then a worker drains it all
	sleep 2.2
	q sweep jobs >/dev/null
	q retry jobs -a
	run -0 timeout 60 q work -q jobs true
	# nothing lost: each of the 300 is in done/, once
	assert_equal "$(count jobs done)" 300
	assert_equal "$(count jobs new)" 0
	assert_equal "$(count jobs cur)" 0
	assert_equal "$(count jobs failed)" 0
	assert_equal "$(names jobs done | cut -d, -f1 | sort -u | wc -l)" 300
	cat "$R"/taker.* >"$R/all"
	takes=$(grep -c '^TAKE ' "$R/all")
	accepted=$(awk '$1 == "OP" && $5 == 0' "$R/all" | wc -l)
	rejected=$(awk '$1 == "OP" && $5 != 0' "$R/all" | wc -l)
	echo "# $takes claims, $accepted transitions accepted, $rejected refused" >&3
	[ "$takes" -gt 80 ] || fail "only $takes claims"
	[ "$rejected" -gt 0 ] || fail "no late token was ever refused"
	# every token was handed out once
	run awk '$1 == "TAKE" { if (seen[$3]++) print "twice: " $3 }' "$R/all"
	assert_output ""
	# no token accepted once a later claim of its message existed
	run awk '
		$1 == "TAKE" { split($3, p, ",a="); take[p[1], p[2]] = $2; next }
		$1 == "OP" && $5 == 0 {
			split($4, p, ",a=")
			for (k in take) {
				split(k, q, SUBSEP)
				if (q[1] == p[1] && q[2] + 0 > p[2] + 0 && take[k] < $2)
					print "accepted after a later claim: " $0
			}
		}' "$R/all"
	assert_output ""
	# a prompt transition on a live claim is never refused
	run awk '$1 == "OP" && $6 == "prompt" && $5 != 0' "$R/all"
	assert_output ""
	# retry and replay count what they moved; anything else is an error
	grep -v -E '^q (retry|replay): jobs: [0-9]+ messages? back in new/$' \
		"$R/operator.err" >"$R/operator.bad" || true
	[ ! -s "$R/operator.bad" ] || fail "$(head -3 "$R/operator.bad")"
}
