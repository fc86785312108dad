#!/usr/bin/env bats
# One spool, many hosts, on real mounts: the spool lies in one directory
# that bindfs (Debian package bindfs, a FUSE file system) mounts twice,
# standing in for two hosts that mount one NFS export.  As on NFS,
# renameat2(RENAME_NOREPLACE) gives EINVAL there (so every move is a link
# and an unlink), a flock(2) through one mount is not seen through the
# other, and inotify on one mount does not see what is made through the
# other.  Each "host" has its own node name (Q_HOST).  Needs root and
# /dev/fuse; each test mounts and unmounts its own pair.

load helper
load process

eval "helper_$(declare -f setup)"
eval "process_$(declare -f teardown)"

setup() {
	helper_setup
	command -v bindfs >/dev/null || skip "needs bindfs (Debian package bindfs)"
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount bindfs"
	[ -c /dev/fuse ] || skip "needs /dev/fuse"
	BASE=$BATS_TEST_TMPDIR/export
	A=$BATS_TEST_TMPDIR/hostA
	B=$BATS_TEST_TMPDIR/hostB
	mkdir -p "$BASE" "$A" "$B"
	bindfs "$BASE" "$A" || skip "bindfs cannot mount here"
	bindfs "$BASE" "$B" || skip "bindfs cannot mount here"
}

teardown() {
	process_teardown
	umount "${A:-/nonexistent}" 2>/dev/null || true
	umount "${B:-/nonexistent}" 2>/dev/null || true
}

# Run q as host $1 (its Q_HOST) with the other arguments.
on() {
	local host=$1
	shift
	Q_HOST=$host q "$@"
}

# Number of messages in state $1 of queue jobs, as the export holds it:
# not the names FUSE gives a file removed while open (.fuse_hidden...),
# which q ignores.
n_in() {
	find "$BASE/jobs/$1" -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l
}

done_is() { [ "$(n_in done)" -eq "$1" ]; }
cur_is() { [ "$(n_in cur)" -eq "$1" ]; }

@test "shared: q stat through a FUSE mount says remote, polled, claims by lease" {
	on hostA put -m x "$A/jobs" >/dev/null
	run -0 q stat "$B/jobs"
	assert_line "  file system: remote; arrivals by a look every 1s, claims by lease alone, clock skew 30s"
	run -0 q stat --json "$B/jobs"
	run -0 jq -c '[.remote, .wait, .liveness, .skew]' <<<"$output"
	assert_output '[true,"poll","lease",30]'
	on hostA config "$A/jobs" locks shared
	on hostA config "$A/jobs" poll 200ms
	run -0 q stat "$B/jobs"
	assert_line "  file system: remote; arrivals by a look every 200ms, claims by lock and lease, clock skew 30s"
}

@test "shared: a wait there looks at new/ again every poll of the config" {
	require_strace
	on hostA put -m x "$A/jobs" >/dev/null
	on hostA take "$A/jobs" >/dev/null
	on hostA config "$A/jobs" poll 250ms
	run strace -f -qq -o "$BATS_TEST_TMPDIR/trace" -e trace=clock_nanosleep \
		-E ASAN_OPTIONS=detect_leaks=0 env Q_HOST=hostB q take -w 1 "$B/jobs"
	[ "$status" -eq 75 ]
	# every sleep is a poll long, or the rest of the second
	grep -c 'tv_nsec=250000000}' "$BATS_TEST_TMPDIR/trace" >"$BATS_TEST_TMPDIR/n"
	[ "$(cat "$BATS_TEST_TMPDIR/n")" -ge 3 ]
	! grep -q 'tv_sec=1,' "$BATS_TEST_TMPDIR/trace"
}

@test "shared: a waiting worker on one host works what another host puts (it polls)" {
	local ids
	on hostA put -m m0 "$A/jobs" >"$BATS_TEST_TMPDIR/ids"
	Q_HOST=hostB q work -f "$B/jobs" -- sh -c 'cat >>"$1"' sh \
		"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/work.err" &
	track $!
	# the worker has worked what there was, and waits
	waitfor done_is 1
	for i in 1 2 3 4 5; do
		on hostA put -m "m$i" "$A/jobs" >>"$BATS_TEST_TMPDIR/ids"
	done
	waitfor done_is 6
	sort "$BATS_TEST_TMPDIR/out" | tr '\n' ' ' >"$BATS_TEST_TMPDIR/got"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/got")" "m0 m1 m2 m3 m4 m5 "
	ids=$(cut -d. -f4 "$BATS_TEST_TMPDIR/ids" | sort -u)
	assert_equal "$ids" hostA
	assert_equal "$(n_in new)" 0
	assert_equal "$(n_in cur)" 0
}

@test "shared: two workers on each of two hosts, 2000 messages through link and unlink: each worked once" {
	local i pids=()
	for ((i = 1; i <= 2000; i++)); do echo "m$i"; done |
		on hostA put -l "$A/jobs" >/dev/null
	for h in A B; do
		for j in 1 2; do
			local dir=$A
			[ "$h" = B ] && dir=$B
			Q_HOST=host$h q work "$dir/jobs" -- \
			    sh -c 'echo "$Q_ID" >>"$1"' sh \
			    "$BATS_TEST_TMPDIR/ran.$h$j" \
			    2>>"$BATS_TEST_TMPDIR/work.err" &
			track $!
			pids+=($!)
		done
	done
	# the workers only: with BATS_TEST_TIMEOUT bats has a timer child too
	wait "${pids[@]}"
	cat "$BATS_TEST_TMPDIR"/ran.* >"$BATS_TEST_TMPDIR/ran"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/ran")" 2000
	assert_equal "$(sort -u "$BATS_TEST_TMPDIR/ran" | wc -l)" 2000
	assert_equal "$(n_in done)" 2000
	assert_equal "$(n_in new)" 0
	assert_equal "$(n_in cur)" 0
	# more than one host did work
	[ -s "$BATS_TEST_TMPDIR/ran.A1" ] || [ -s "$BATS_TEST_TMPDIR/ran.A2" ]
	[ -s "$BATS_TEST_TMPDIR/ran.B1" ] || [ -s "$BATS_TEST_TMPDIR/ran.B2" ]
}

# Put a message through host A's mount and start, in the background, a
# q work there (run as "$@": q, or a command that becomes q) whose job
# holds it until release is called; wait for the claim.
holding() {
	on vm put -m long "$A/jobs" >/dev/null
	mkfifo "$BATS_TEST_TMPDIR/hold"
	"$@" work "$A/jobs" -- sh -c 'read -r x <"$1"' sh \
		"$BATS_TEST_TMPDIR/hold" 2>/dev/null &
	holder=$!
	track "$holder"
	waitfor cur_is 1
}

# Let the job of holding() end, and check that its message is done.
release() {
	echo done >"$BATS_TEST_TMPDIR/hold"
	wait "$holder"
	assert_equal "$(n_in done)" 1
}

@test "shared: a live worker's claim is not taken by a sweep on another host of the same name" {
	holding env Q_HOST=vm q
	# the same node name, through the other mount: its flock of the
	# worker's liveness lock succeeds, and proves nothing
	run -0 on vm sweep "$B/jobs"
	refute_output --partial "worker gone"
	assert_equal "$(n_in cur)" 1
	assert_equal "$(n_in new)" 0
	# locks = shared trusts that flock, and is wrong on this file system:
	# it is for NFSv4 and the like, whose locks every client sees
	on vm config "$A/jobs" locks shared
	run -0 on vm sweep -n "$B/jobs"
	assert_output --partial "worker gone"
	release
}

@test "shared: kill -9 of a worker on one host: a sweep on the other returns its claim after lease and skew, never before" {
	local f l
	require_faketime
	holding env Q_HOST=hostA q
	on hostA config "$A/jobs" skew 1m
	kill -KILL "$holder"
	# end its job, if it outlived the worker (a read-write open of the
	# FIFO never waits for a reader)
	echo done 1<>"$BATS_TEST_TMPDIR/hold"
	f=$(cd "$BASE/jobs/cur" && ls)
	l=${f##*,l=}
	l=${l%%,*}
	# host B, with its clock just short of the lease and the skew: left
	run -0 faketime -f "@$(date -d "@$((l + 55))" '+%F %T')" \
		env Q_HOST=hostB q sweep "$B/jobs"
	assert_output ""
	assert_equal "$(n_in cur)" 1
	# the dead worker's own node name through the other mount: its
	# free lock there proves nothing, so the lease still decides
	run -0 env Q_HOST=hostA q sweep "$B/jobs"
	assert_output ""
	assert_equal "$(n_in cur)" 1
	# past the lease and the skew: returned, once
	run -0 faketime -f "@$(date -d "@$((l + 65))" '+%F %T')" \
		env Q_HOST=hostB q sweep "$B/jobs"
	assert_output "$B/jobs: cur/$f: lease expired, returned to new/"
	assert_equal "$(n_in cur)" 0
	assert_equal "$(n_in new)" 1
	run -0 --separate-stderr env Q_HOST=hostB q work "$B/jobs" -- cat
	assert_output "long"
	assert_equal "$(n_in done)" 1
}

# Become q as host $1 (its Q_HOST) on another machine: a mount namespace
# of its own whose kernel boot ID (/proc/sys/kernel/random/boot_id) is
# another, as a second machine's is.  It execs: run it in the background
# (its PID is then q's).
elsewhere() {
	local host=$1
	shift
	printf '%s\n' 0b0e1d00-0000-4000-8000-00000000cafe \
		>"$BATS_TEST_TMPDIR/boot_id"
	exec env Q_HOST="$host" unshare -m sh -c 'mount --bind "$0" \
		/proc/sys/kernel/random/boot_id && exec q "$@"' \
		"$BATS_TEST_TMPDIR/boot_id" "$@"
}

@test "shared: a sweep leaves the claims of another machine that uses its node name, and says so" {
	command -v unshare >/dev/null || skip "needs unshare (util-linux)"
	holding elsewhere vm
	# the misconfiguration that lets a same-named host steal: locks
	# trusted where they do not cross the mounts
	on vm config "$A/jobs" locks shared
	run -0 on vm sweep "$B/jobs"
	refute_output --partial "worker gone"
	assert_output --regexp "/jobs: cur/[^ ]+,w=[0-9]+@vm: worker [0-9]+@vm runs on another machine with this node name, left to its lease$"
	assert_equal "$(n_in cur)" 1
	assert_equal "$(n_in new)" 0
	# q work there warns once, and takes nothing either
	run -124 timeout 3 env Q_HOST=vm Q_RECOVER_MS=200 q work -f "$B/jobs" -- true
	assert_output --regexp "node name vm is also used by another machine"
	assert_equal "$(grep -c "node name vm" <<<"$output")" 1
	assert_equal "$(n_in cur)" 1
	assert_equal "$(n_in done)" 0
	release
}

@test "shared: the hidden file of a crashed client goes 36 hours after it was hidden" {
	local id hidden fd
	require_faketime
	id=$(on hostA put -m x "$A/jobs")
	# a process of host A has the message open when it is removed there:
	# FUSE keeps the file under a hidden name until it is closed; opened
	# here, before the rm, not by the background job whenever it runs
	exec {fd}<"$A/jobs/new/$id"
	sleep 1000 <&"$fd" &
	track $!
	exec {fd}<&-
	rm "$A/jobs/new/$id"
	hidden=$(cd "$BASE/jobs/new" && ls -A)
	[[ $hidden == .fuse_hidden* ]] || fail "no hidden file: '$hidden'"
	# host A crashes: its file system client dies, the file never closes
	pkill -KILL -f "^bindfs $BASE $A\$"
	umount -l "$A" 2>/dev/null || true
	kill -KILL $! 2>/dev/null || true
	run -0 on hostB sweep "$B/jobs"
	assert_output ""
	assert_equal "$(cd "$BASE/jobs/new" && ls -A)" "$hidden"
	run -0 faketime -f +35h env Q_HOST=hostB q sweep "$B/jobs"
	assert_output ""
	run -0 faketime -f +37h env Q_HOST=hostB q sweep -n "$B/jobs"
	assert_output "$B/jobs: new/$hidden: stale, would remove"
	run -0 faketime -f +37h env Q_HOST=hostB q sweep "$B/jobs"
	assert_output "$B/jobs: new/$hidden: stale, removed"
	assert_equal "$(cd "$BASE/jobs/new" && ls -A)" ""
}

@test "shared: kill -9 of a taker between its link and its unlink on a real mount: no token is reused, no copy appears" {
	local n id other claim
	require_strace
	# baseline: which unlinkat of a take is the one of new/
	id=$(on hostA put -m probe "$A/probe")
	run strace -f -qq -o "$BATS_TEST_TMPDIR/trace" \
		-E ASAN_OPTIONS=detect_leaks=0 -e trace=linkat,unlinkat \
		env Q_HOST=hostA q take "$A/probe"
	assert_success
	n=$(awk -v src="\"$id\"" '{ sub(/^[0-9]+ +/, "") }
		/^unlinkat\(/ { k++; if (index($0, src)) { print k; exit } }' \
		"$BATS_TEST_TMPDIR/trace")
	[ -n "$n" ]
	id=$(on hostA put -m one "$A/jobs")
	other=$(on hostA put -m two "$A/jobs")
	on hostA config "$A/jobs" skew 0	# the orphan's lease counts as is
	run strace -f -qq -o /dev/null -E ASAN_OPTIONS=detect_leaks=0 \
		-e inject="unlinkat:signal=KILL:when=$n" \
		env Q_HOST=hostA q take -l 1s "$A/jobs"
	assert_equal "$(n_in cur)" 1
	[ -e "$BASE/jobs/new/$id" ]
	claim=$(ls "$BASE/jobs/cur")
	# the other host's taker finishes that claim and takes the next one
	run -0 on hostB take -l 1h "$B/jobs"
	assert_output "$other,a=1"
	[ ! -e "$BASE/jobs/new/$id" ]
	sleep 2		# the orphan's lease is over
	run -0 on hostB sweep "$B/jobs"
	assert_equal "$(ls "$BASE/jobs/new")" "$id,a=1"
	run -0 on hostB take "$B/jobs"
	assert_output "$id,a=2"
	[ "$claim" != "" ]
}
