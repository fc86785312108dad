#!/usr/bin/env bats
# Durability, read off the system calls: each command that promises
# durability runs under strace, and tests/durable/check.awk checks its
# trace against the rules of RELIABILITY.md (a file synced before it is
# moved into place, a directory fsynced after it gained a promised entry,
# a made directory fsynced into its parent, all before success is
# reported).  A power-cut test can pass with a rule broken, as the journal
# commits an entry with a later sync; the trace cannot.  The checker's
# "ok rule N ROLE COUNT" lines show that there was something to check, and
# doctored traces show that it fails when a sync is missing.

load helper

eval "helper_$(declare -f setup)"

setup() {
	helper_setup
	# -y prints resolved paths: so must q's own names be
	QDIR="$(realpath "$BATS_TEST_TMPDIR")/spool"
	TRACE="$BATS_TEST_TMPDIR/trace"
	CHECK="$BATS_TEST_DIRNAME/durable/check.awk"
	require_strace
}

# Run q "$@" under strace (its extra options first, up to --), tracing into
# $TRACE; q's stdout goes to $BATS_TEST_TMPDIR/out.  Fails if q fails.
traced() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	strace -f -y -tt -o "$TRACE" -E ASAN_OPTIONS=detect_leaks=0 \
		"${opts[@]}" q "$@" >"$BATS_TEST_TMPDIR/out"
}

# Check trace $1 (default $TRACE); sets status and output.
check() {
	run awk -f "$CHECK" "${1:-$TRACE}"
}

# Copy $TRACE to $TRACE.bad without the last call $1 whose first argument
# is a descriptor on path $2 (any path if $2 is empty), or the first such
# call if $3 is "first".  Fails if there is none.
drop() {
	awk -v call="$1(" -v path="$2" -v first="${3:-}" '
		{ line[NR] = $0 }
		index($0, call) && (path == "" || index($0, "<" path ">)")) &&
		    !(first && n) {
			n = NR
		}
		END {
			for (i = 1; i <= NR; i++)
				if (i != n)
					print line[i]
			exit n == 0
		}' "$TRACE" >"$TRACE.bad"
}

# The checker refuses $TRACE.bad by rule $1, quoting a trace line that
# matches the extended regular expression $2 first.
refused() {
	check "$TRACE.bad"
	assert_failure 1
	assert_line --index 0 --partial "rule $1:"
	assert_line --index 1 --regexp "$2"
}

# Copy $TRACE to $TRACE.bad with the last fsync of directory $1 moved to
# just after the first write to standard output.
late() {
	awk -v fd="<$1>)" '
		{ line[NR] = $0 }
		/ fsync\(/ && index($0, fd) { n = NR }
		/ write\(1</ && !w { w = NR }
		END {
			for (i = 1; i <= NR; i++) {
				if (i != n)
					print line[i]
				if (i == w)
					print line[n]
			}
			exit n == 0 || w == 0 || n > w
		}' "$TRACE" >"$TRACE.bad"
}

# The messages printed by the traced command are in queue $1's new/.
printed_in() {
	local id
	[ -s "$BATS_TEST_TMPDIR/out" ] || fail "no ID printed"
	while read -r id; do
		assert_file_exists "$QDIR/$1/new/$id"
	done <"$BATS_TEST_TMPDIR/out"
}

@test "put of one message: synced, then new/ fsynced before the ID" {
	q put -m old jobs >/dev/null
	traced -- put -m hello jobs
	printed_in jobs
	check
	assert_success
	assert_output $'ok rule 1 new 1\nok rule 2 new 1'
}

@test "put of a batch of 2: both synced before new/, new/ fsynced" {
	q put -m old jobs >/dev/null
	traced -- put -m a -m b jobs
	printed_in jobs
	check
	assert_success
	assert_output $'ok rule 1 new 2\nok rule 2 new 2'
}

@test "put of a batch of 3" {
	q put -m old jobs >/dev/null
	traced -- put -m a -m b -m c jobs
	printed_in jobs
	check
	assert_success
	assert_output $'ok rule 1 new 3\nok rule 2 new 3'
}

@test "put of a batch of 3 where syncfs reports no write-back errors (Linux before 5.8): each file fdatasynced, no syncfs" {
	command -v setarch >/dev/null || skip "needs setarch"
	q put -m old jobs >/dev/null
	# the kernel as uname(2) tells it: 2.6
	strace -f -y -tt -o "$TRACE" -E ASAN_OPTIONS=detect_leaks=0 \
		setarch --uname-2.6 q put -m a -m b -m c jobs \
		>"$BATS_TEST_TMPDIR/out"
	printed_in jobs
	check
	assert_success
	assert_output $'ok rule 1 new 3\nok rule 2 new 3'
	assert_equal "$(grep -c 'syncfs(' "$TRACE")" 0
	assert_equal "$(grep -c 'fdatasync(' "$TRACE")" 3
}

@test "put -l of 500 lines" {
	q put -m old jobs >/dev/null
	seq 500 | traced -- put -l jobs
	printed_in jobs
	assert_equal "$(count jobs new)" 501
	check
	assert_success
	assert_output $'ok rule 1 new 500\nok rule 2 new 500'
}

@test "put -k: the message, then its key, each synced and fsynced" {
	q put -m old jobs >/dev/null
	traced -- put -k order-17 -m hello jobs
	printed_in jobs
	check
	assert_success
	assert_line "ok rule 1 new 1"
	assert_line "ok rule 1 keys 1"
	assert_line "ok rule 2 new 1"
	assert_line "ok rule 2 keys 1"
}

@test "put -l -K: the group, then its keys, synced once and fsynced" {
	q put -k k2 -m old jobs >/dev/null
	printf 'k1\ta\nk2\tb\nk3\tc\nk1\td\n' | traced -- put -l -K jobs
	printed_in jobs
	assert_equal "$(count jobs new)" 3
	check
	assert_success
	# two messages, two keys: k2 was recorded before, k1 came twice
	assert_line "ok rule 1 new 2"
	assert_line "ok rule 1 keys 2"
	assert_line "ok rule 2 new 2"
	assert_line "ok rule 2 keys 2"
	# one syncfs for the messages, one for the keys
	assert_equal "$(grep -c 'syncfs(' "$TRACE")" 2
}

@test "put -l -K where only a later record is fresh: that one synced before new/" {
	q put -k k1 -m old jobs >/dev/null
	# the first record's key was recorded: the group delivers only the second
	printf 'k1\ta\nk2\tb\n' | traced -- put -l -K jobs
	printed_in jobs
	assert_equal "$(count jobs new)" 2
	check
	assert_success
	assert_line "ok rule 1 new 1"
	assert_line "ok rule 2 new 1"
}

@test "the checker fails when the keys of put -K are renamed before their syncfs" {
	q put -m old jobs >/dev/null
	printf 'k1\ta\nk2\tb\n' | traced -- put -l -K jobs
	drop syncfs "$QDIR/jobs/keys"
	refused 1 'rename.*/jobs/keys>'
}

@test "put into a new queue: the queue and its directories made durable" {
	mkdir "$QDIR"
	traced -- put -m hello jobs
	printed_in jobs
	check
	assert_success
	assert_line "ok rule 2 new 1"
	# tmp/ new/ cur/ done/ failed/ into the queue, the queue into QDIR
	assert_line "ok rule 3 queue 5"
	assert_line "ok rule 3 other 1"
}

@test "put with a QDIR that does not exist yet: every directory made durable" {
	QDIR="$(realpath "$BATS_TEST_TMPDIR")/a/b/spool"
	traced -- put -m hello jobs
	printed_in jobs
	check
	assert_success
	assert_line "ok rule 2 new 1"
	assert_line "ok rule 3 queue 5"
	# a/ b/ spool/ jobs/, each into its parent
	assert_line "ok rule 3 other 4"
}

@test "put to a topic: each subscriber's new/ fsynced before the ID" {
	q sub events appA
	q sub events appB
	traced -- put -m hello events
	printed_in appA
	printed_in appB
	check
	assert_success
	assert_line "ok rule 1 new 2"
	assert_line "ok rule 2 new 2"
	assert_line "ok rule 4 fan 2"
}

@test "put to a topic of a batch of 2" {
	q sub events appA
	q sub events appB
	traced -- put -m a -m b events
	printed_in appA
	printed_in appB
	check
	assert_success
	assert_line "ok rule 1 new 4"
	assert_line "ok rule 2 new 4"
}

@test "put to a topic nobody can receive: kept in new/, fsynced before the ID" {
	q sub events appA
	rm -r "$QDIR/appA"
	mkdir "$QDIR/appA"
	run -66 traced -- put -m hello events
	printed_in events
	check
	assert_success
	assert_line "ok rule 1 new 1"
	assert_line "ok rule 2 new 1"
}

@test "sub: the subscription in subs/ fsynced, and both queues made durable" {
	traced -- sub events appA
	assert_link_exists "$QDIR/events/subs/appA"
	check
	assert_success
	assert_line "ok rule 2 subs 1"
	# the two queues' state directories, and subs/
	assert_line "ok rule 3 queue 11"
}

@test "config: the new file synced before the rename, the queue fsynced" {
	q put -m old jobs >/dev/null
	traced -- config jobs lease 5m
	run -0 q config jobs lease
	assert_output 5m
	check
	assert_success
	assert_output $'ok rule 1 queue 1\nok rule 2 queue 1'
}

@test "pause: the queue fsynced after the paused file appeared" {
	q put -m old jobs >/dev/null
	traced -- pause jobs
	assert_file_exists "$QDIR/jobs/paused"
	check
	assert_success
	assert_output "ok rule 2 queue 1"
}

@test "put through the link + unlink fallback keeps the rules" {
	q put -m old jobs >/dev/null
	traced -e inject=renameat2:error=EINVAL -- put -m a -m b jobs
	printed_in jobs
	grep -q 'linkat(.*/jobs/new>' "$TRACE" || fail "no fallback in the trace"
	check
	assert_success
	assert_output $'ok rule 1 new 2\nok rule 2 new 2'
}

@test "put to a topic and put -k through the fallback keep the rules" {
	q sub events appA
	traced -e inject=renameat2:error=EINVAL -- put -m hello events
	printed_in appA
	check
	assert_success
	assert_line "ok rule 1 new 1"
	assert_line "ok rule 2 new 1"
	traced -e inject=renameat2:error=EINVAL -- put -k K -m hello jobs
	printed_in jobs
	check
	assert_success
	assert_line "ok rule 1 keys 1"
	assert_line "ok rule 2 keys 1"
}

@test "the checker fails without the message's fdatasync" {
	q put -m old jobs >/dev/null
	traced -- put -m hello jobs
	drop fdatasync
	refused 1 'renameat2\(.*/jobs/new>'
}

@test "the checker fails without the syncfs of a batch of 2" {
	q put -m old jobs >/dev/null
	traced -- put -m a -m b jobs
	drop syncfs
	refused 1 '_0\.'	# neither is synced alone: the first is the first refused
}

@test "the checker fails without the fsync of new/" {
	q put -m old jobs >/dev/null
	traced -- put -m hello jobs
	drop fsync "$QDIR/jobs/new"
	refused 2 'renameat2\(.*/jobs/new>'
	assert_line --index 2 --regexp 'reported success at: .*write\(1<'
}

@test "the checker fails when new/ is fsynced only after the ID is printed" {
	q put -m old jobs >/dev/null
	traced -- put -m hello jobs
	late "$QDIR/jobs/new"
	refused 2 'renameat2\(.*/jobs/new>'
}

@test "the checker fails without the fsync of a subscriber's new/" {
	q sub events appA
	q sub events appB
	traced -- put -m hello events
	drop fsync "$QDIR/appB/new"
	refused 2 'link.*/appB/new>'
}

@test "the checker fails when a topic delivers from fan/ before fan/ is fsynced" {
	q sub events appA
	q put -m old events >/dev/null	# fan/ made: its first fsync is the commit
	traced -- put -m hello events
	drop fsync "$QDIR/events/fan" first
	refused 4 'link.*/events/fan>.*/appA/new>'
}

@test "the checker fails without the fsync of keys/ after the key" {
	q put -m old jobs >/dev/null
	traced -- put -k order-17 -m hello jobs
	drop fsync "$QDIR/jobs/keys"
	refused 2 'rename.*/jobs/keys>'
}

@test "the checker fails without the fsync of QDIR after the queue is made" {
	mkdir "$QDIR"
	traced -- put -m hello jobs
	drop fsync "$QDIR"
	refused 3 "mkdir\\(\"$QDIR/jobs\", "
	assert_line --index 0 --partial "rule 3: a directory the command made"
}

@test "the checker fails without the fsync of the queue after config" {
	q put -m old jobs >/dev/null
	traced -- config jobs lease 5m
	drop fsync "$QDIR/jobs"
	refused 2 'rename.*"config"'
	assert_line --index 2 --partial "+++ exited with 0 +++"
}

@test "the checker fails without the fsync of subs/ after sub" {
	q sub events appA
	traced -- sub events appB
	drop fsync "$QDIR/events/subs"
	refused 2 'symlinkat\(.*"appB"\)'
}

@test "the checker fails without the message's fdatasync in the fallback" {
	q put -m old jobs >/dev/null
	traced -e inject=renameat2:error=EINVAL -- put -m hello jobs
	drop fdatasync
	refused 1 'linkat\(.*/jobs/new>'
}

@test "the checker reads a trace of several processes without -tt" {
	strace -f -y -o "$TRACE" -E ASAN_OPTIONS=detect_leaks=0 \
		sh -c 'q sub events appA && q put -m a jobs && q put -m b events' \
		>/dev/null
	grep -q 'unfinished \.\.\.>' "$TRACE" || fail "no unfinished call"
	check
	assert_success
	assert_line "ok rule 1 new 2"
	assert_line "ok rule 2 new 2"
	assert_line "ok rule 2 subs 1"
}

@test "the checker refuses a trace it cannot check" {
	q put -m old jobs >/dev/null
	strace -f -o "$TRACE" -E ASAN_OPTIONS=detect_leaks=0 q put -m hello jobs \
		>/dev/null
	check
	assert_failure 2
	assert_output --partial "strace -y"
	run -64 strace -f -y -o "$TRACE" -E ASAN_OPTIONS=detect_leaks=0 \
		q put -m hello
	check
	assert_failure 2
	assert_output --partial "no success reported"
}
