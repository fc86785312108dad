#!/usr/bin/env bats
# q put -k: dedup keys.  A key seen within the queue's dedup window
# enqueues nothing and gives back the first ID; keys/ holds one record per
# key under the SHA-256 of the key, written only once the message is
# durable; sweep forgets records past the window.

load helper

# Hex SHA-256 of the bytes of $1: the name of its record in keys/.
keyhash() {
	printf '%s' "$1" | sha256sum | cut -c1-64
}

# Entries of keys/ of queue $1 that are records (not locks), sorted.
records() {
	find "$QDIR/$1/keys" -mindepth 1 -maxdepth 1 ! -name '*.lock' \
		-printf '%f\n' 2>/dev/null | LC_ALL=C sort
}

# For strace's when=N: the ordinals, among all calls of syscall $1, of
# those whose decoded line (strace -y shows descriptors as paths) matches
# the ERE $2, in a traced run of "${@:3}"; one per line.
nth_calls() {
	local sc=$1 re=$2 log
	shift 2
	log=$(mktemp "$BATS_TEST_TMPDIR/baseline.XXXXXX")
	strace -f -qq -y -o "$log" -E ASAN_OPTIONS=detect_leaks=0 \
		-e trace="$sc" "$@" >/dev/null 2>&1 || return 1
	awk -v sc="$sc" -v re="$re" '
		{ sub(/^[0-9]+ +/, "") }
		index($0, sc "(") == 1 { n++; if ($0 ~ re) print n }
	' "$log"
}

# Two queues of the same shape: base, traced for a baseline, and jobs,
# where a call is made to fail.  Each already holds a keyed message, so
# both have keys/ and the same calls happen in the same order.
twins() {
	q put -k warm -m warm base >/dev/null
	q put -k warm -m warm jobs >/dev/null
}

# Run "$@" under strace with syscall $1 failing with EIO at its call $2;
# sets status, output and stderr like run.
inject_eio() {
	local sc=$1 when=$2
	shift 2
	run --separate-stderr strace -f -qq -o /dev/null \
		-E ASAN_OPTIONS=detect_leaks=0 \
		-e inject="$sc:error=EIO:when=$when" "$@"
}

# twins, and in jobs the lock of key $1 without a record: a put with
# that key that failed (EIO at its fsync of new/).
orphan_lock() {
	twins
	n=$(nth_calls fsync '/base/new>' q put -k "$1" -m x base | head -1)
	[ -n "$n" ] || fail "no fsync of new/ in the baseline"
	inject_eio fsync "$n" q put -k "$1" -m x jobs
	assert_equal "$status" 74
}

# Start q put "${@:3}" jobs in the background under strace's injection $2
# (delay_enter=...), its output in $1 and $1.err of the test's directory.
# Sets held (its PID).
held_put() {
	local out=$BATS_TEST_TMPDIR/$1 inj=$2
	shift 2
	strace -f -qq -o /dev/null -E ASAN_OPTIONS=detect_leaks=0 \
		-e inject="$inj" q put "$@" jobs >"$out" 2>"$out.err" 3>&- &
	held=$!
}

@test "a second put with the same key enqueues nothing and prints the first ID" {
	run --separate-stderr -0 q put -k order-1 -m first jobs
	assert_output --regexp "$ID_RE"
	first=$output
	run --separate-stderr -0 q put -k order-1 -m second jobs
	assert_output "$first"
	assert_equal "$stderr" "q put: jobs: order-1: a duplicate key, nothing enqueued"
	assert_equal "$(names jobs new)" "$first"
	assert_equal "$(cat "$(qpath jobs)/new/$first")" "first"
	assert_equal "$(count jobs tmp)" 0
}

@test "the key is remembered after its message was consumed" {
	first=$(q put -k order-1 -m first jobs)
	token=$(q take jobs)
	q ack jobs "$token"
	run --separate-stderr -0 q put -k order-1 -m again jobs
	assert_output "$first"
	assert_equal "$(count jobs new)" 0
	assert_equal "$(count jobs tmp)" 0
	assert_equal "$(names jobs done)" "$first,a=1"
}

@test "a different key enqueues" {
	a=$(q put -k order-1 -m one jobs)
	run --separate-stderr -0 q put -k order-2 -m two jobs
	assert_output --regexp "$ID_RE"
	refute_output "$a"
	assert_equal "$(count jobs new)" 2
	assert_equal "$(cat "$(qpath jobs)/new/$output")" "two"
	assert_equal "$(records jobs)" "$(printf '%s\n' "$(keyhash order-1)" \
		"$(keyhash order-2)" | LC_ALL=C sort)"
}

@test "keys are per queue" {
	a=$(q put -k k1 -m one jobs)
	run --separate-stderr -0 q put -k k1 -m two other
	refute_output "$a"
	assert_equal "$(count jobs new)" 1
	assert_equal "$(count other new)" 1
}

@test "the record is keys/SHA256 holding the ID" {
	id=$(q put -k order-1 -m x jobs)
	h=$(keyhash order-1)
	assert_file_exists "$(qpath jobs)/keys/$h"
	assert_equal "$(cat "$(qpath jobs)/keys/$h")" "$id"
}

@test "keys are hashed: no key text, however hostile, names a file" {
	long=$(printf 'k%.0s' {1..300})
	keys=("/" "../x" "../../../../etc/passwd" $'line one\nline two' \
		"$long" "clé-日本語" "a b" "-x")
	ids=()
	for ((k = 0; k < ${#keys[@]}; k++)); do
		run --separate-stderr -0 q put -k "${keys[k]}" -m "msg $k" jobs
		assert_output --regexp "$ID_RE"
		ids[k]=$output
	done
	assert_equal "$(count jobs new)" "${#keys[@]}"
	# every name in keys/ is 64 hex digits, with .lock for a lock
	run -0 find "$(qpath jobs)/keys" -mindepth 1 -printf '%f\n'
	assert_equal "${#lines[@]}" $((2 * ${#keys[@]}))
	for line in "${lines[@]}"; do
		[[ $line =~ ^[0-9a-f]{64}(\.lock)?$ ]] ||
			fail "unexpected entry in keys/: $line"
	done
	for ((k = 0; k < ${#keys[@]}; k++)); do
		h=$(keyhash "${keys[k]}")
		assert_file_exists "$(qpath jobs)/keys/$h"
		assert_equal "$(cat "$(qpath jobs)/keys/$h")" "${ids[$k]}"
		# and each key is still recognised
		run --separate-stderr -0 q put -k "${keys[k]}" -m "again $k" jobs
		assert_output "${ids[$k]}"
	done
	assert_equal "$(count jobs new)" "${#keys[@]}"
	# nothing was created outside the queue's state directories
	run -0 find "$QDIR" -mindepth 1 -maxdepth 2 -printf '%P\n'
	assert_equal "$(printf '%s\n' "${lines[@]}" | LC_ALL=C sort)" \
		"$(printf '%s\n' jobs jobs/{cur,done,failed,keys,live,new,tmp} |
			LC_ALL=C sort)"
	assert_not_exist "$QDIR/x"
	assert_not_exist "$(qpath jobs)/x"
	assert_equal "$(count jobs tmp)" 0
}

@test "ten concurrent producers with one key enqueue one message" {
	gate="$BATS_TEST_TMPDIR/gate"
	: >"$gate"
	exec {hold}>"$gate"
	flock -x "$hold"
	pids=()
	for ((k = 1; k <= 10; k++)); do
		(
			exec {hold}>&-
			: >"$BATS_TEST_TMPDIR/ready.$k"
			flock -s 9
			timeout 60 q put -k same -m "producer $k" jobs \
				>"$BATS_TEST_TMPDIR/out.$k" \
				2>"$BATS_TEST_TMPDIR/err.$k" 9<&-
			echo $? >"$BATS_TEST_TMPDIR/rc.$k"
		) 9<"$gate" 3>&- &
		pids+=($!)
	done
	# release them together once all are waiting at the gate (bounded)
	for ((t = 0; t < 500; t++)); do
		n=$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'ready.*' | wc -l)
		[ "$n" -eq 10 ] && break
		sleep 0.02
	done
	flock -u "$hold"
	exec {hold}>&-
	wait "${pids[@]}"
	first=$(cat "$BATS_TEST_TMPDIR/out.1")
	[[ $first =~ $ID_RE ]] || fail "producer 1 printed '$first'"
	# one enqueued, and said nothing; nine were told they were duplicates
	dups=0
	for ((k = 1; k <= 10; k++)); do
		assert_equal "$(cat "$BATS_TEST_TMPDIR/rc.$k")" 0
		assert_equal "$(cat "$BATS_TEST_TMPDIR/out.$k")" "$first"
		case $(cat "$BATS_TEST_TMPDIR/err.$k") in
		"") ;;
		"q put: jobs: same: a duplicate key, nothing enqueued")
			dups=$((dups + 1)) ;;
		*) fail "producer $k: $(cat "$BATS_TEST_TMPDIR/err.$k")" ;;
		esac
	done
	assert_equal "$dups" 9
	assert_equal "$(names jobs new)" "$first"
	assert_equal "$(count jobs tmp)" 0
	run -0 cat "$(qpath jobs)/new/$first"
	assert_output --regexp '^producer ([1-9]|10)$'
	assert_equal "$(records jobs)" "$(keyhash same)"
	assert_equal "$(cat "$(qpath jobs)/keys/$(keyhash same)")" "$first"
}

@test "the key is recorded after the message file is synced and new/ is fsynced" {
	require_strace
	q put -m w jobs >/dev/null
	log="$BATS_TEST_TMPDIR/trace"
	run -0 strace -f -qq -y -o "$log" -E ASAN_OPTIONS=detect_leaks=0 \
		-e trace=fsync,fdatasync,rename,renameat,renameat2 \
		q put -k order-1 -m x jobs
	id=$output
	h=$(keyhash order-1)
	# line numbers of: the message's fdatasync, its rename into new/, the
	# fsync of new/, the rename of the record into keys/
	n_data=$(grep -n "^[0-9]* *fdatasync([0-9]*<[^>]*/jobs/tmp/$id>" "$log" | cut -d: -f1 | head -1)
	n_new=$(grep -n "/jobs/new/*>, \"$id\"" "$log" | cut -d: -f1 | head -1)
	n_sync=$(grep -n "^[0-9]* *fsync([0-9]*<[^>]*/jobs/new>)" "$log" | cut -d: -f1 | tail -1)
	n_key=$(grep -n "/jobs/keys>, \"$h\")" "$log" | cut -d: -f1 | head -1)
	[ -n "$n_data" ] && [ -n "$n_new" ] && [ -n "$n_sync" ] && [ -n "$n_key" ] ||
		fail "calls not found in trace: $(cat "$log")"
	[ "$n_data" -lt "$n_new" ] && [ "$n_new" -lt "$n_sync" ] &&
		[ "$n_sync" -lt "$n_key" ] ||
		fail "key recorded before the message was durable: $(cat "$log")"
}

@test "a put whose message fdatasync fails records no key; a retry enqueues" {
	require_strace
	twins
	# the first file synced in tmp/ is the message
	n=$(nth_calls fdatasync '/base/tmp/' q put -k order-1 -m x base | head -1)
	[ -n "$n" ] || fail "no fdatasync in tmp/ in the baseline"
	before=$(snapshot jobs)
	inject_eio fdatasync "$n" q put -k order-1 -m x jobs
	assert_equal "$status" 74
	assert_output ""
	assert_equal "$stderr" "q put: jobs: Input/output error"
	assert_equal "$(snapshot jobs | grep -v '^./keys/[0-9a-f]*\.lock ')" \
		"$(grep -v '^./keys/[0-9a-f]*\.lock ' <<<"$before")"
	assert_not_exist "$(qpath jobs)/keys/$(keyhash order-1)"
	assert_equal "$(count jobs tmp)" 0
	run --separate-stderr -0 q put -k order-1 -m y jobs
	assert_output --regexp "$ID_RE"
	assert_equal "$(cat "$(qpath jobs)/new/$output")" "y"
	assert_equal "$(cat "$(qpath jobs)/keys/$(keyhash order-1)")" "$output"
}

@test "a put whose fsync of new/ fails records no key and leaves no message; a retry enqueues" {
	require_strace
	twins
	n=$(nth_calls fsync '/base/new>' q put -k order-1 -m x base | head -1)
	[ -n "$n" ] || fail "no fsync of new/ in the baseline"
	before=$(names jobs new)
	inject_eio fsync "$n" q put -k order-1 -m x jobs
	assert_equal "$status" 74
	assert_output ""
	assert_equal "$stderr" "q put: jobs: Input/output error"
	assert_equal "$(names jobs new)" "$before"
	assert_equal "$(count jobs tmp)" 0
	assert_not_exist "$(qpath jobs)/keys/$(keyhash order-1)"
	run --separate-stderr -0 q put -k order-1 -m y jobs
	assert_output --regexp "$ID_RE"
	assert_equal "$(count jobs new)" 2
	assert_equal "$(cat "$(qpath jobs)/new/$output")" "y"
	assert_equal "$(cat "$(qpath jobs)/keys/$(keyhash order-1)")" "$output"
}

@test "a record that cannot be synced: the message stays enqueued, the key is not kept" {
	require_strace
	twins
	# two files are synced in tmp/: the message, then the record
	run -0 nth_calls fdatasync '/base/tmp/' q put -k order-1 -m x base
	assert_equal "${#lines[@]}" 2
	n=${lines[1]}
	inject_eio fdatasync "$n" q put -k order-1 -m x jobs
	assert_equal "$status" 74
	assert_output --regexp "$ID_RE"
	id=$output
	assert_equal "$stderr" \
		"q put: jobs: enqueued, but the key was not recorded: Input/output error"
	assert_equal "$(cat "$(qpath jobs)/new/$id")" "x"
	assert_equal "$(count jobs tmp)" 0
	assert_not_exist "$(qpath jobs)/keys/$(keyhash order-1)"
	# at least once: the next put with the key enqueues again
	run --separate-stderr -0 q put -k order-1 -m y jobs
	refute_output "$id"
	assert_equal "$(count jobs new)" 3
}

@test "after the dedup window the same key enqueues again" {
	q put -m w jobs >/dev/null
	q config jobs dedup 1s
	first=$(q put -k order-1 -m one jobs)
	# bounded wait: until a put with the key is no longer deduplicated
	for ((t = 0; t < 50; t++)); do
		run --separate-stderr -0 q put -k order-1 -m two jobs
		[ "$output" != "$first" ] && break
		assert_equal "$(count jobs new)" 2
		sleep 0.2
	done
	assert_output --regexp "$ID_RE"
	refute_output "$first"
	second=$output
	assert_equal "$(count jobs new)" 3
	assert_equal "$(cat "$(qpath jobs)/new/$second")" "two"
	assert_equal "$(cat "$(qpath jobs)/keys/$(keyhash order-1)")" "$second"
	# and the renewed key holds again
	run --separate-stderr -0 q put -k order-1 -m three jobs
	assert_output "$second"
	assert_equal "$(count jobs new)" 3
}

@test "sweep keeps keys within the window" {
	q put -k order-1 -m one jobs >/dev/null
	run --separate-stderr -0 q sweep jobs
	assert_output ""
	assert_equal "$stderr" ""
	h=$(keyhash order-1)
	assert_file_exists "$(qpath jobs)/keys/$h"
	run -0 q put -k order-1 -m two jobs
	assert_equal "$(count jobs new)" 1
}

@test "sweep forgets keys past the window and leaves no lock files" {
	q put -m w jobs >/dev/null
	q config jobs dedup 1s
	q put -k order-1 -m one jobs >/dev/null
	h=$(keyhash order-1)
	# bounded wait: until sweep -n would forget the key
	for ((t = 0; t < 50; t++)); do
		run --separate-stderr -0 q sweep -n jobs
		[ -n "$output" ] && break
		sleep 0.2
	done
	assert_output "jobs: keys/$h: past the dedup window, would forget"
	assert_file_exists "$(qpath jobs)/keys/$h"
	run --separate-stderr -0 q sweep jobs
	assert_output "jobs: keys/$h: past the dedup window, forgotten"
	assert_equal "$stderr" ""
	assert_equal "$(count jobs keys)" 0
	assert_equal "$(count jobs new)" 2
	# nothing left to forget
	run --separate-stderr -0 q sweep jobs
	assert_output ""
}

@test "sweep removes a lock file whose record is gone" {
	require_strace
	orphan_lock order-1
	h=$(keyhash order-1)
	assert_not_exist "$(qpath jobs)/keys/$h"
	run --separate-stderr -0 q sweep jobs
	assert_output ""
	assert_not_exist "$(qpath jobs)/keys/$h.lock"
	# the other key, still fresh, keeps its record and lock
	assert_equal "$(records jobs)" "$(keyhash warm)"
	assert_file_exists "$(qpath jobs)/keys/$(keyhash warm).lock"
}

@test "a producer whose key lock was removed by a sweep while it waited for it takes the new lock: one message for two producers" {
	local h p2 p3 rc2 rc3
	require_held flock fdatasync
	orphan_lock order-1
	h=$(keyhash order-1)
	assert_file_exists "$(qpath jobs)/keys/$h.lock"
	# producer 2 opens that lock file and is held before it locks it
	held_put p2 flock:delay_enter=2000000:when=2 -k order-1 -m two
	p2=$held
	held_in "$p2" flock 0x2	# LOCK_EX: the key's, not the live lock
	# a sweep removes the lock file, which has no record
	run -0 q sweep jobs
	assert_not_exist "$(qpath jobs)/keys/$h.lock"
	# producer 3 makes a new lock file, locks it and is held while it
	# writes its message
	held_put p3 fdatasync:delay_enter=4000000:when=1 -k order-1 -m three
	p3=$held
	held_in "$p3" fdatasync
	assert_file_exists "$(qpath jobs)/keys/$h.lock"
	# producer 2 gets the old lock, sees it is not the one in keys/, and
	# waits for producer 3's: its put is a duplicate
	wait "$p2" && rc2=0 || rc2=$?
	wait "$p3" && rc3=0 || rc3=$?
	echo "p2: $rc2 $(cat "$BATS_TEST_TMPDIR/p2" "$BATS_TEST_TMPDIR/p2.err")"
	echo "p3: $rc3 $(cat "$BATS_TEST_TMPDIR/p3" "$BATS_TEST_TMPDIR/p3.err")"
	[ "$rc2" -eq 0 ]
	[ "$rc3" -eq 0 ]
	assert_equal "$(cat "$BATS_TEST_TMPDIR/p2")" "$(cat "$BATS_TEST_TMPDIR/p3")"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/p2.err")" \
		"q put: jobs: order-1: a duplicate key, nothing enqueued"
	# the warm message and producer 3's
	assert_equal "$(count jobs new)" 2
	[ -f "$(qpath jobs)/new/$(cat "$BATS_TEST_TMPDIR/p3")" ]
}

@test "dedup 0 disables deduplication" {
	q put -m w jobs >/dev/null
	q config jobs dedup 0
	a=$(q put -k order-1 -m one jobs)
	run --separate-stderr -0 q put -k order-1 -m two jobs
	assert_output --regexp "$ID_RE"
	refute_output "$a"
	assert_equal "$(count jobs new)" 3
}

# Run q put -k K "$@" and check it is refused as a usage error that
# creates nothing, saying why ($1 of "$@" after the reason).
refused() {
	local why=$1
	shift
	run --separate-stderr q put -k order-1 "$@" </dev/null
	assert_equal "$status" 64
	assert_output ""
	assert_equal "$stderr" "q put: -k names one message$why
usage: q put [-d delay] [-p prio] [-k key] [-l | -0 [-K]] [-m text]... [--no-sync] [--group n] [--linger ms] queue [file ...]"
	assert_not_exist "$(qpath jobs)"
}

@test "-k with -l, -0 or more than one message is a usage error" {
	f="$BATS_TEST_TMPDIR/f"
	printf 'f\n' >"$f"
	refused ": not with -l" -l jobs
	refused ": not with -0" -0 jobs
	refused ": not with -l" -l jobs "$f"
	refused ", not several" -m a -m b jobs
	refused ", not several" -m a jobs "$f"
	refused ", not several" jobs "$f" "$f"
	refused ", not several" jobs - "$f"
}

@test "a key on a topic delivers to the subscribers once" {
	q sub events appA
	q sub events appB
	run --separate-stderr -0 q put -k ev-1 -m hello events
	first=$output
	run --separate-stderr -0 q put -k ev-1 -m hello events
	assert_output "$first"
	assert_equal "$(names appA new)" "$first"
	assert_equal "$(names appB new)" "$first"
	assert_equal "$(count events new)" 0
	assert_equal "$(count events tmp)" 0
	assert_equal "$(cat "$(qpath events)/keys/$(keyhash ev-1)")" "$first"
}
