#!/usr/bin/env bats
# Fault injection: system calls of q made to fail with strace, stdout on a
# full device, and real ENOSPC on small tmpfs mounts.  Whatever fails, q
# exits 74 with one line on stderr, prints no ID, and leaves no partial
# message in new/ and nothing in tmp/.

load helper

teardown() {
	if [ -n "${MNT:-}" ] && mountpoint -q "$MNT"; then
		umount "$MNT"
	fi
}

# strerror(3) text for an errno name.
reason() {
	case $1 in
	EIO) echo "Input/output error" ;;
	ENOSPC) echo "No space left on device" ;;
	EDQUOT) echo "Disk quota exceeded" ;;
	*) return 1 ;;
	esac
}

# Run "$@" (a q command) under strace, tracing the comma-separated
# syscalls in $1 with stack traces, and list the calls q's own code made
# (a frame of the q executable other than _start on the stack; not the
# dynamic loader's or libc's start-up), one per line as
#   SYSCALL N TEXT
# where N counts every call of SYSCALL since exec, as when=N does.
own_calls() {
	local set=$1 log qbin
	shift
	qbin=$(command -v q)
	log=$(mktemp "$BATS_TEST_TMPDIR/trace.XXXXXX")
	strace -f -qq -k -o "$log" -E ASAN_OPTIONS=detect_leaks=0 \
		-e trace="$set" "$@" >/dev/null 2>&1 || return 1
	awk -v set="$set" -v frame=" > $qbin(" '
		BEGIN { n = split(set, a, ","); for (k = 1; k <= n; k++) want[a[k]] = 1 }
		function flush() { if (cur != "" && own) print cur; cur = ""; own = 0 }
		/^ > / {
			if (index($0, frame) == 1 && index($0, frame "_start+") != 1)
				own = 1
			next
		}
		{
			flush()
			sub(/^[0-9]+ +/, "")
			sc = $0
			sub(/\(.*/, "", sc)
			calls[sc]++
			if (sc in want)
				cur = sc " " calls[sc] " " $0
		}
		END { flush() }' "$log"
}

# strace, and its -k (stack traces), which tells q's calls from the loader's.
require_strace_k() {
	require_strace
	strace -qq -k -o /dev/null true 2>/dev/null || skip "strace has no -k"
}

# The first call of $1 that q itself makes while running "${@:2}", as
# "SYSCALL N TEXT" (N for when=N).
first_own() {
	local sc=$1
	shift
	own_calls "$sc" "$@" | awk -v sc="$sc" '$1 == sc { print; exit }'
}

# Run "$@" under strace with syscall $1 failing with errno $2 at its call
# number $3; sets status, output, stderr like run.
inject() {
	local sc=$1 err=$2 when=$3
	shift 3
	run --separate-stderr strace -f -qq -o /dev/null \
		-E ASAN_OPTIONS=detect_leaks=0 \
		-e inject="$sc:error=$err:when=$when" "$@"
}

# An existing, empty queue $1, made by q itself.
empty_queue() {
	q put -m seed "$1" >/dev/null
	rm -- "$QDIR/$1"/new/*
	[ "$(count "$1" new)" -eq 0 ]
}

# The put of one message into an existing empty queue fails at the first
# call of $1 that is q's own, with errno $2.
put_fails_at() {
	local sc=$1 err=$2 call n

	require_strace_k
	empty_queue jobs
	# baseline: which call number of $sc is q's own, in the same state
	call=$(first_own "$sc" q put -m probe jobs)
	[ -n "$call" ]
	echo "baseline: $call"
	n=$(awk '{ print $2 }' <<<"$call")
	case $sc in
	write) [[ $call == *'"probe\n"'* ]] ;;	# the message, not stdout
	renameat2) [[ $call == *RENAME_NOREPLACE* ]] ;;
	esac
	rm -- "$QDIR"/jobs/new/*
	[ "$(count jobs new)" -eq 0 ]
	[ "$(count jobs tmp)" -eq 0 ]

	inject "$sc" "$err" "$n" q put -m hello jobs
	echo "status=$status stdout=$output stderr=$stderr"
	[ "$status" -eq 74 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *jobs* ]]
	[[ $stderr == *"$(reason "$err")"* ]]
	[ "$(count jobs new)" -eq 0 ]
	[ "$(count jobs tmp)" -eq 0 ]

	# the queue is fine afterwards
	run --separate-stderr q put -m after jobs
	[ "$status" -eq 0 ]
	run q take jobs
	assert_success
	run q cat jobs "${output%%,*}"
	assert_output after
}

@test "put: fdatasync fails with EIO: 74, nothing in new/ or tmp/" {
	put_fails_at fdatasync EIO
}

@test "put: fdatasync fails with ENOSPC: 74, nothing in new/ or tmp/" {
	put_fails_at fdatasync ENOSPC
}

@test "put: fdatasync fails with EDQUOT: 74, nothing in new/ or tmp/" {
	put_fails_at fdatasync EDQUOT
}

@test "put: fsync of new/ fails with EIO: 74, nothing in new/ or tmp/" {
	put_fails_at fsync EIO
}

@test "put: fsync of new/ fails with ENOSPC: 74, nothing in new/ or tmp/" {
	put_fails_at fsync ENOSPC
}

@test "put: renameat2 fails with EIO: 74, nothing in new/ or tmp/" {
	require_renameat2
	put_fails_at renameat2 EIO
}

@test "put: renameat2 fails with ENOSPC: 74, nothing in new/ or tmp/" {
	require_renameat2
	put_fails_at renameat2 ENOSPC
}

@test "put: write fails with EIO: 74, nothing in new/ or tmp/" {
	put_fails_at write EIO
}

@test "put: write fails with ENOSPC: 74, nothing in new/ or tmp/" {
	put_fails_at write ENOSPC
}

# Run "$@" (stdin from file $2) once for each of its own calls of the
# system calls in list $1 (commas), that call failing with EIO, into a
# queue jobs that does not exist yet.  Each run must give 74 and one line
# naming the queue on stderr, and leave no message but those whose IDs
# it printed, at most $3 (a batch is made durable as one, but its renames
# into new/ are one by one), each in new/; q put must work afterwards.
# Every call of list $1 must have been among those failed.
eio_at_each() {
	local set=$1 in=$2 most=$3 calls sc n text fd left printed renamed=""
	local bad=() tested=()
	local -A msgfd=()
	shift 3
	mkdir -p "$QDIR"
	calls=$(own_calls "$set" "$@" <"$in")
	[ -n "$calls" ]
	rm -rf -- "${QDIR:?}/jobs"
	while read -r sc n text; do
		# stdout is case of its own; closing read-only descriptors after
		# success and stdio's look at stdout cannot lose a message
		fd=${text#*(}
		fd=${fd%%[,)]*}
		case $sc in
		renameat2) renamed=1 ;;
		esac
		# nor can taking away the liveness lock once the message is in
		[ -n "$renamed" ] && [[ $text == *'"'[0-9]*@*'"'* ]] && continue
		case $sc in
		write | newfstatat) [ "$fd" = 1 ] && continue ;;
		openat)
			# a message file: its close counts
			if [[ $text == *O_CREAT*O_EXCL* ]]; then
				msgfd[${text##*= }]=1
			fi
			;;
		close)
			[ -n "${msgfd[$fd]-}" ] || continue
			unset "msgfd[$fd]"
			;;
		esac
		tested+=("$sc#$n")
		inject "$sc" EIO "$n" "$@" <"$in"
		left=$(find "$QDIR/jobs" -mindepth 2 -type f \
		    -not -path '*/live/*' 2>/dev/null | sed 's,.*/,,' | sort)
		if [ "$status" -ne 74 ] || [ "${#stderr_lines[@]}" -ne 1 ] ||
			[[ $stderr != *jobs* ]] ||
			[ "$left" != "$(sort <<<"$output" | sed '/^$/d')" ] ||
			[ "${#lines[@]}" -gt "$most" ] ||
			[ "$(count jobs new 2>/dev/null)" -ne "${#lines[@]}" ]; then
			bad+=("$sc#$n [$text]: status $status, stdout '$output', stderr '$stderr'")
		fi
		# and the queue works afterwards
		printed=${#lines[@]}
		run --separate-stderr q put -m again jobs
		if [ "$status" -ne 0 ] ||
		    [ "$(count jobs new)" -ne $((printed + 1)) ]; then
			bad+=("after $sc#$n: put gives $status, stderr '$stderr'")
		fi
		rm -rf -- "${QDIR:?}/jobs"
	done <<<"$calls"
	echo "injected EIO at: ${tested[*]}"
	printf '%s\n' "${bad[@]}"
	# the calls that matter were all there
	for sc in ${set//,/ }; do
		[[ " ${tested[*]}" == *" $sc#"* ]] || fail "no call of $sc failed"
	done
	[ "${#bad[@]}" -eq 0 ]
}

@test "put into a new queue: EIO at any of q's own calls gives 74 and no message" {
	require_renameat2
	require_strace_k
	eio_at_each mkdir,mkdirat,openat,newfstatat,fsync,fdatasync,write,renameat2,close \
		/dev/null 0 q put -m hello jobs
}

@test "put -l of 3 lines into a new queue: EIO at any of q's own calls gives 74, and only the messages whose IDs were printed are in new/" {
	require_renameat2
	require_strace_k
	printf 'a\nb\nc\n' >"$BATS_TEST_TMPDIR/in"
	eio_at_each mkdir,mkdirat,openat,fsync,syncfs,write,renameat2,close \
		"$BATS_TEST_TMPDIR/in" 2 q put -l jobs
}

@test "take: claim renameat2 fails with EIO: 74, message still in new/" {
	require_renameat2
	local call n id before

	require_strace_k
	q put -m probe probe >/dev/null
	call=$(first_own renameat2 q take probe)
	echo "baseline: $call"
	[[ $call == *RENAME_NOREPLACE* ]]
	n=$(awk '{ print $2 }' <<<"$call")

	id=$(q put -m hello jobs)
	before=$(snapshot jobs)
	inject renameat2 EIO "$n" q take jobs
	[ "$status" -eq 74 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *jobs* && $stderr == *"Input/output error"* ]]
	[ "$(snapshot jobs)" = "$before" ]
	run names jobs new
	assert_output "$id"
	[ "$(count jobs cur)" -eq 0 ]

	# the failed claim did not count as an attempt
	run q take jobs
	assert_success
	assert_output "$id,a=1"
}

@test "ack: renameat2 fails with EIO: 74, message still in cur/, ack works afterwards" {
	require_renameat2
	local call n id t before

	require_strace_k
	q put -m probe probe >/dev/null
	t=$(q take probe)
	call=$(first_own renameat2 q ack probe "$t")
	echo "baseline: $call"
	[[ $call == *RENAME_NOREPLACE* ]]
	n=$(awk '{ print $2 }' <<<"$call")

	id=$(q put -m hello jobs)
	t=$(q take jobs)
	before=$(snapshot jobs)
	inject renameat2 EIO "$n" q ack jobs "$t"
	[ "$status" -eq 74 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *jobs* && $stderr == *"$t"* ]]
	[[ $stderr == *"Input/output error"* ]]
	[ "$(snapshot jobs)" = "$before" ]
	[ "$(count jobs cur)" -eq 1 ]
	[ "$(count jobs done)" -eq 0 ]

	run --separate-stderr q ack jobs "$t"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	run names jobs done
	assert_output "$id,a=1"
	[ "$(count jobs cur)" -eq 0 ]
}

@test "sweep: renameat2 of an expired claim fails with EIO: 74, claim stays in cur/" {
	require_renameat2
	local call n t before lease

	require_strace_k
	q put -m probe probe >/dev/null
	q take -l 1 probe >/dev/null
	q put -m hello jobs >/dev/null
	t=$(q take -l 1 jobs)
	lease=$(names jobs cur)
	lease=${lease##*,l=}
	for ((n = 0; n < 150; n++)); do
		[ "$(date +%s)" -gt "$lease" ] && break
		sleep 0.1
	done
	[ "$(date +%s)" -gt "$lease" ]

	call=$(first_own renameat2 q sweep probe)
	echo "baseline: $call"
	[[ $call == *RENAME_NOREPLACE* ]]
	n=$(awk '{ print $2 }' <<<"$call")

	before=$(snapshot jobs)
	inject renameat2 EIO "$n" q sweep jobs
	[ "$status" -eq 74 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *jobs* && $stderr == *"Input/output error"* ]]
	[ "$(snapshot jobs)" = "$before" ]

	run q sweep jobs
	assert_success
	run names jobs new
	assert_output "${t}"
}

@test "put to a full stdout: 74, says it was enqueued, and the message is in new/" {
	run --separate-stderr bash -c 'q put -m x jobs >/dev/full'
	[ "$status" -eq 74 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *enqueued* ]]
	[[ $stderr == *jobs* ]]
	[ "$(count jobs new)" -eq 1 ]
	[ "$(count jobs tmp)" -eq 0 ]
	run cat "$QDIR/jobs/new/$(names jobs new)"
	assert_output x
}

# Mount a tmpfs with options $1 on $MNT.
mount_tmpfs() {
	require_root
	MNT="$BATS_TEST_TMPDIR/mnt"
	mkdir "$MNT"
	mount -t tmpfs -o "$1" tmpfs "$MNT" || skip "cannot mount a tmpfs here"
}

# Every message in new/ of queue path $1 is one that put reported, with
# exactly the content it was given: the list $2 has "ID FILE" lines.
check_delivered() {
	local q=$1 list=$2 id f
	[ "$(find "$q/new" -mindepth 1 | wc -l)" -eq "$(wc -l <"$list")" ]
	while read -r id f; do
		cmp "$q/new/$id" "$f"
	done <"$list"
	[ "$(find "$q/tmp" -mindepth 1 | wc -l)" -eq 0 ]
}

@test "a full file system (256 KiB tmpfs): 74, nothing partial in new/, tmp/ empty" {
	local qp k f
	local exp="$BATS_TEST_TMPDIR/expect" list="$BATS_TEST_TMPDIR/delivered"

	mount_tmpfs size=256k
	qp="$MNT/q"
	mkdir "$exp"
	: >"$list"
	# most of the space goes to a file outside the queue
	head -c 160000 /dev/zero >"$MNT/filler"
	for ((k = 1; k <= 64; k++)); do
		f="$exp/$k"
		{ printf 'message %d\n' "$k"; head -c 15000 /dev/urandom | base64; } >"$f"
		run --separate-stderr q put "$qp" "$f"
		[ "$status" -eq 0 ] || break
		[ "${#lines[@]}" -eq 1 ]
		echo "$output $f" >>"$list"
	done
	echo "status=$status stdout=$output stderr=$stderr after $k puts"
	[ "$status" -eq 74 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"$qp"* && $stderr == *"No space left on device"* ]]
	[ "$(wc -l <"$list")" -ge 1 ]
	check_delivered "$qp" "$list"

	# a batch that does not fit enqueues nothing
	for ((k = 0; k < 20; k++)); do
		head -c 6000 /dev/urandom | base64 -w0
		echo
	done >"$exp/batch"
	run --separate-stderr q put -l "$qp" "$exp/batch"
	[ "$status" -eq 74 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"$qp"* ]]
	check_delivered "$qp" "$list"

	# with space again, put works
	rm "$MNT/filler"
	f="$exp/last"
	printf 'the last one\n' >"$f"
	run --separate-stderr q put "$qp" "$f"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	echo "$output $f" >>"$list"
	check_delivered "$qp" "$list"
}

@test "out of inodes (tmpfs nr_inodes): 74, nothing half-written, put works once freed" {
	local qp k f
	local exp="$BATS_TEST_TMPDIR/expect" list="$BATS_TEST_TMPDIR/delivered"

	mount_tmpfs size=4m,nr_inodes=24
	qp="$MNT/q"
	mkdir "$exp"
	: >"$list"
	touch "$MNT/spare1" "$MNT/spare2"
	for ((k = 1; k <= 64; k++)); do
		f="$exp/$k"
		printf 'message %d\n' "$k" >"$f"
		run --separate-stderr q put "$qp" "$f"
		[ "$status" -eq 0 ] || break
		echo "$output $f" >>"$list"
	done
	echo "status=$status stdout=$output stderr=$stderr after $k puts"
	[ "$status" -eq 74 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"$qp"* && $stderr == *"No space left on device"* ]]
	[ "$(wc -l <"$list")" -ge 1 ]
	check_delivered "$qp" "$list"

	# still full: fails the same way, changes nothing
	run --separate-stderr q put -m more "$qp"
	[ "$status" -eq 74 ]
	check_delivered "$qp" "$list"

	rm "$MNT/spare1" "$MNT/spare2"
	f="$exp/last"
	printf 'the last one\n' >"$f"
	run --separate-stderr q put "$qp" "$f"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	echo "$output $f" >>"$list"
	check_delivered "$qp" "$list"
}

@test "out of inodes while creating a new queue: 74, and the queue works once inodes are free" {
	local qp id

	mount_tmpfs size=1m,nr_inodes=4
	qp="$MNT/q"
	run --separate-stderr q put -m hello "$qp"
	echo "status=$status stdout=$output stderr=$stderr"
	[ "$status" -eq 74 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"$qp"* && $stderr == *"No space left on device"* ]]
	[ "$(find "$qp" -type f 2>/dev/null | wc -l)" -eq 0 ]

	mount -o remount,nr_inodes=64 "$MNT"
	run --separate-stderr q put -m hello "$qp"
	[ "$status" -eq 0 ]
	id=$output
	run cat "$qp/new/$id"
	assert_output hello
	run q take "$qp"
	assert_output "$id,a=1"
}

@test "put -l: the group commit's syncfs fails: 74, nothing in new/ or tmp/" {
	require_strace
	q put -m first jobs >/dev/null
	run --separate-stderr -74 env ASAN_OPTIONS=detect_leaks=0 \
		strace -f -qq -o /dev/null -e inject=syncfs:error=EIO:when=1 \
		q put -l jobs < <(printf 'a\nb\nc\n')
	assert_output ""
	assert_equal "$stderr" "q put: jobs: 3 of 3 messages not enqueued: Input/output error"
	assert_equal "$(count jobs new)" 1
	assert_equal "$(count jobs tmp)" 0
	run -0 q put -l jobs < <(printf 'a\nb\nc\n')
	assert_equal "$(count jobs new)" 4
}
