#!/usr/bin/env bats
# Many hosts on one spool, what can be tested on a local file system: the
# node name (Q_HOST, config host), the skew allowed for other clocks, the
# poll interval and the lock setting, and what q stat says of them.  The
# same on real FUSE mounts is in shared.bats.

load helper

@test "Q_HOST names the node in IDs; a config host does when Q_HOST is unset" {
	run -0 env Q_HOST=node-a.1 q put -m x jobs
	assert_output --regexp '^[0-9]{10}\.[0-9]{6}\.[0-9]+_[0-9]+\.node-a\.1$'
	run -0 q config jobs host cfgnode
	run -0 q put -m y jobs
	assert_output --regexp '\.cfgnode$'
	run -0 env Q_HOST=envnode q put -m z jobs
	assert_output --regexp '\.envnode$'
	run -0 q config jobs host auto
	run -0 q put -m w jobs
	assert_output --regexp "\\.$(hostname | tr -c 'A-Za-z0-9.\n-' -)\$"
}

@test "Q_HOST names the worker in the w= of its claims" {
	q put -m x jobs >/dev/null
	run -0 env Q_HOST=worker7 q work jobs -- \
		sh -c 'ls "$Q_QUEUE/cur"'
	assert_line --regexp ',w=[0-9]+@worker7$'
	[ "$(count jobs done)" -eq 1 ]
}

@test "a Q_HOST that is no node name is an error (64) naming it, and nothing is made" {
	local bad
	for bad in 'a/b' 'has space' 'under_score' \
	    "$(printf 'x%.0s' {1..65})"; do
		run --separate-stderr env Q_HOST="$bad" q put -m x fresh
		[ "$status" -eq 64 ] || fail "Q_HOST='$bad': status $status"
		assert_equal "$output" ""
		assert_equal "$stderr" \
		    "q put: Q_HOST: not a node name (1 to 64 of A-Z a-z 0-9 . -)"
	done
	run -0 env Q_HOST="$(printf 'x%.0s' {1..64})" q put -m x fresh
	[ "$(count fresh new)" -eq 1 ]
	q put -m y jobs >/dev/null
	run --separate-stderr env Q_HOST=a/b q take jobs
	[ "$status" -eq 64 ]
	[ "$(count jobs new)" -eq 1 ]
	[ "$(count jobs cur)" -eq 0 ]
}

@test "config skew, poll, locks and host: values taken, shown, and refused" {
	q put -m x jobs >/dev/null
	run -0 q config jobs poll 250ms
	run -0 q config jobs poll
	assert_output 250ms
	run -0 q config jobs poll 2s
	run -0 q config jobs poll
	assert_output 2s
	run -0 q config jobs skew 2m
	run -0 q config jobs skew
	assert_output 2m
	run -0 q config jobs skew auto
	run -0 q config jobs locks shared
	run -0 q config jobs locks
	assert_output shared
	run -0 q config jobs host web-1.example
	run -0 q config jobs host
	assert_output web-1.example
	cp "$(qpath jobs)/config" "$BATS_TEST_TMPDIR/before"
	for kv in 'poll 5ms' 'poll 2h' 'poll ms' 'poll 1xms' 'skew 2h' \
	    'skew sometimes' 'locks maybe' 'locks 1' 'host a_b' 'host a/b'; do
		# shellcheck disable=SC2086
		run --separate-stderr q config jobs $kv
		[ "$status" -eq 65 ] || fail "$kv: status $status"
		[[ $stderr == *"invalid value"* ]] || fail "$kv: $stderr"
	done
	cmp "$(qpath jobs)/config" "$BATS_TEST_TMPDIR/before"
}

@test "stat says how a local queue is waited on and its claims judged" {
	q put -m x jobs >/dev/null
	run -0 q stat jobs
	assert_line "  file system: local; arrivals by inotify, dead workers by their lock"
	run -0 q stat --json jobs
	run -0 jq -c '[.remote, .wait, .poll_ms, .liveness, .skew]' <<<"$output"
	assert_output '[false,"inotify",1000,"lock",0]'
	q config jobs skew 45s
	q config jobs poll 300ms
	run -0 q stat --json jobs
	run -0 jq -c '[.poll_ms, .skew]' <<<"$output"
	assert_output '[300,45]'
}

@test "skew: a sweep returns an expired lease only once it is skew past" {
	local t
	q put -m x jobs >/dev/null
	q config jobs skew 1h
	t=$(q take -l 1s jobs)
	sleep 2
	run -0 q sweep jobs
	[ "$(count jobs cur)" -eq 1 ]
	run -0 q stat --json jobs
	run -0 jq .cur.expired <<<"$output"
	assert_output 0
	q config jobs skew 0
	run -0 q sweep jobs
	[ "$(count jobs cur)" -eq 0 ]
	run -0 names jobs new
	assert_output "${t}"
}

@test "skew: a 12-hour lease is not taken for forged by a sweeper whose clock is a little behind" {
	require_faketime
	q put -m x jobs >/dev/null
	q take -l 12h jobs >/dev/null
	q config jobs skew 30s
	run -0 faketime -f -5s q sweep jobs
	[ "$(count jobs cur)" -eq 1 ]
	# without the allowance it is forged, and returned
	q config jobs skew 0
	run -0 faketime -f -5s q sweep jobs
	[ "$(count jobs cur)" -eq 0 ]
	[ "$(count jobs new)" -eq 1 ]
}

# Claim the one message of queue jobs as worker 32700@n1 with a lease
# of an hour, and give that worker the liveness file (live/32700@n1)
# that a process leaves: unlocked, its last heartbeat "WALL MONO LEASE
# BOOT MACHINE" with wall clock $2, boot ID $3, machine ID $4 and lease
# $5 (an hour if not given).  Then
# sweep as n1, and check the verdict $1: "gone" (its worker is dead, the
# claim returned at once) or "twin" (a machine that uses the same node
# name, the claim left to its lease).
judged() {
	local f id to
	f=$(find "$QDIR/jobs/new" "$QDIR/jobs/cur" -type f)
	id=${f##*/}
	to=$QDIR/jobs/cur/${id%%,*},a=1,l=$((now + 3600)),w=32700@n1
	[ "$f" = "$to" ] || mv "$f" "$to"
	mkdir -p "$QDIR/jobs/live"
	printf '%020d %020d %010d %s %s\n' "$2" 1 "${5:-3600}" "$3" "$4" \
		>"$QDIR/jobs/live/32700@n1"
	run -0 env Q_HOST=n1 q sweep jobs
	case $1 in
	gone)
		assert_output --regexp ": worker gone, returned to new/$"
		[ "$(count jobs new)" -eq 1 ] ;;
	twin)
		assert_output --regexp "^jobs: cur/[^ ]+: worker 32700@n1 runs on another machine with this node name, left to its lease$"
		[ "$(count jobs cur)" -eq 1 ] ;;
	esac
}

@test "node names: the free lock of another machine's worker that uses this name proves nothing; of this machine before its boot it does" {
	local boot up mine other=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee
	local theirs=0123456789abcdef0123456789abcdef
	[ -r /proc/sys/kernel/random/boot_id ] || skip "needs /proc/sys/kernel/random/boot_id"
	[ -s /etc/machine-id ] || skip "needs /etc/machine-id"
	now=$(date +%s)
	up=$(( now - $(cut -d. -f1 /proc/uptime) ))
	boot=$(cat /proc/sys/kernel/random/boot_id)
	mine=$(cat /etc/machine-id)
	q put -m x jobs >/dev/null
	# another machine, its beat a second old
	judged twin $((now - 1)) "$other" "$theirs"
	# the same beat from this boot of this machine: its worker is gone
	judged gone $((now - 1)) "$boot" "$mine"
	# this machine before its last boot (its machine ID, another boot
	# ID, a beat older than the boot, its lease not yet over): gone too
	judged gone $((up - 60)) "$other" "$mine" $((now - up + 3600))
	# the same beat from another machine: left to its lease
	judged twin $((up - 60)) "$other" "$theirs" $((now - up + 3600))
	# another machine that stopped beating over a lease ago: nothing is
	# renewing there
	judged gone $((now - 3700)) "$other" "$theirs"
}
