#!/usr/bin/env bats
# Topics: q sub, q unsub, and fan-out delivery by q put.  A subscription
# is a symlink TOPIC/subs/NAME to the subscribed queue; a put into the
# topic gives every subscriber its own entry in new/ (a hard link on the
# same file system, a copy across file systems) and keeps nothing itself.

load helper

teardown() {
	if [ -n "${MNT:-}" ] && mountpoint -q "$MNT"; then
		umount "$MNT"
	fi
}

# inode and link count of a file, as "INODE LINKS".
inode() {
	stat -c '%i %h' "$1"
}

# Which state directories exist in directory $1, as a word list.
statedirs() {
	local d
	for d in tmp new cur done failed keys subs; do
		[ -e "$1/$d" ] && printf '%s ' "$d"
	done
	echo
}

@test "sub creates both queues and a symlink to the queue's absolute path" {
	run --separate-stderr -0 q sub events appA
	assert_output ""
	assert_equal "$stderr" ""
	for qu in events appA; do
		for d in tmp new cur done failed; do
			assert_dir_exists "$(qpath "$qu")/$d"
		done
	done
	link="$(qpath events)/subs/appA"
	assert_link_exists "$link"
	assert_equal "$(readlink "$link")" "$(realpath "$(qpath appA)")"
	[[ $(readlink "$link") == /* ]] || fail "relative symlink"
}

@test "sub of a queue given as a relative path links to its absolute path" {
	cd "$BATS_TEST_TMPDIR"
	run --separate-stderr -0 q sub events ./elsewhere/appC
	link="$(qpath events)/subs/appC"
	assert_link_exists "$link"
	assert_equal "$(readlink "$link")" \
		"$(realpath "$BATS_TEST_TMPDIR/elsewhere/appC")"
	assert_dir_exists "$BATS_TEST_TMPDIR/elsewhere/appC/new"
}

@test "sub of existing queues, and a second sub, succeed and change nothing" {
	q put -m old events >/dev/null
	q put -m mine appA >/dev/null
	run --separate-stderr -0 q sub events appA
	before=$(ls -l "$(qpath events)/subs")
	run --separate-stderr -0 q sub events appA
	assert_output ""
	assert_equal "$stderr" ""
	assert_equal "$(ls -l "$(qpath events)/subs")" "$before"
	assert_equal "$(count events subs)" 1
	assert_equal "$(count events new)" 1
	assert_equal "$(count appA new)" 1
}

@test "sub with a name that already leads to another queue: 65, nothing changed" {
	q sub events appA
	link="$(qpath events)/subs/appA"
	before=$(readlink "$link")
	other="$BATS_TEST_TMPDIR/other/appA"
	run --separate-stderr q sub events "$other"
	assert_equal "$status" 65
	assert_output ""
	assert_equal "$stderr" "q sub: events: subs/appA: leads to another queue"
	assert_equal "$(readlink "$link")" "$before"
	assert_equal "$(count events subs)" 1
	# bad input changes nothing: the other queue is not created either
	assert_not_exist "$other"
}

@test "sub with an invalid queue name: 65, nothing created" {
	run --separate-stderr q sub events .x
	assert_equal "$status" 65
	assert_output ""
	assert_equal "$stderr" "q sub: .x: invalid queue name"
	assert_not_exist "$(qpath events)"
	assert_not_exist "$(qpath .x)"

	run --separate-stderr q sub .x appA
	assert_equal "$status" 65
	assert_output ""
	assert_equal "$stderr" "q sub: .x: invalid queue name"
	assert_not_exist "$(qpath .x)"
	assert_not_exist "$(qpath appA)"
}

@test "sub takes a topic and at most one queue" {
	run --separate-stderr q sub
	assert_equal "$status" 64
	assert_output ""
	run --separate-stderr q sub events appA appB
	assert_equal "$status" 64
	assert_not_exist "$(qpath events)"
}

@test "put into a topic hard-links one copy into each subscriber's new/" {
	q sub events appA
	q sub events appB
	run --separate-stderr -0 q put -m hello events
	assert_output --regexp "$ID_RE"
	id=$output
	assert_equal "$stderr" ""
	assert_equal "$(names appA new)" "$id"
	assert_equal "$(names appB new)" "$id"
	a="$(qpath appA)/new/$id"
	b="$(qpath appB)/new/$id"
	assert_equal "$(cat "$a")" "hello"
	# one file on disk, named by both queues and nothing else
	assert_equal "$(inode "$a")" "$(inode "$b")"
	assert_equal "$(stat -c %h "$a")" 2
	assert_equal "$(count events new)" 0
	assert_equal "$(count events tmp)" 0
	assert_equal "$(count appA tmp)" 0
	assert_equal "$(count appB tmp)" 0
}

@test "a subscriber's copy carries the put's priority and delay" {
	q sub events appA
	run --separate-stderr -0 q put -p 1 -d 1h -m later events
	id=$output
	run -0 names appA new
	assert_output --regexp "^${id//./\\.},p=1,d=[0-9]{10}$"
	assert_equal "$(count events new)" 0
}

@test "a topic without subscribers keeps the message in its own new/" {
	q sub events appA
	q unsub events appA
	run --separate-stderr -0 q put -m kept events
	id=$output
	assert_equal "$stderr" ""
	assert_equal "$(names events new)" "$id"
	assert_equal "$(cat "$(qpath events)/new/$id")" "kept"
	assert_equal "$(count events tmp)" 0
	assert_equal "$(count appA new)" 0
}

@test "consuming one subscriber's copy leaves the other's whole in its new/" {
	q sub events appA
	q sub events appB
	id=$(printf 'line 1\nline 2\n' | q put events)
	run --separate-stderr -0 q take appA
	token=$output
	[[ $token == "$id",* ]] || fail "took '$token', expected $id"
	run --separate-stderr -0 q ack appA "$token"
	assert_equal "$(count appA new)" 0
	assert_equal "$(count appA done)" 1
	assert_equal "$(names appB new)" "$id"
	assert_equal "$(count appB cur)" 0
	run --separate-stderr -0 q cat appB "$id"
	assert_output $'line 1\nline 2'
	assert_equal "$(cat "$(qpath appB)/new/$id")" $'line 1\nline 2'
	# and appB's consumer gets it in its turn
	run --separate-stderr -0 q take appB
	[[ $output == "$id",* ]] || fail "took '$output', expected $id"
	assert_equal "$(count appB new)" 0
}

@test "unsub stops delivery to that queue only; a second unsub: 66" {
	q sub events appA
	q sub events appB
	first=$(q put -m one events)
	run --separate-stderr -0 q unsub events appA
	assert_output ""
	assert_equal "$stderr" ""
	assert_not_exist "$(qpath events)/subs/appA"
	assert_link_exists "$(qpath events)/subs/appB"
	# the queue itself and what it already got are untouched
	assert_equal "$(names appA new)" "$first"
	second=$(q put -m two events)
	assert_equal "$(names appA new)" "$first"
	assert_equal "$(names appB new)" "$(printf '%s\n' "$first" "$second")"
	assert_equal "$(count events new)" 0

	run --separate-stderr q unsub events appA
	assert_equal "$status" 66
	assert_output ""
	assert_equal "$stderr" "q unsub: events: appA: not subscribed"
	assert_link_exists "$(qpath events)/subs/appB"
}

@test "unsub of a queue from a queue that never had subscribers: 66" {
	q put -m x plain >/dev/null
	before=$(snapshot plain)
	run --separate-stderr q unsub plain appA
	assert_equal "$status" 66
	assert_output ""
	assert_equal "$stderr" "q unsub: plain: appA: not subscribed"
	assert_equal "$(snapshot plain)" "$before"
	assert_not_exist "$(qpath plain)/subs"
}

@test "unsub of a missing topic: 66, nothing created" {
	run --separate-stderr q unsub nosuch appA
	assert_equal "$status" 66
	assert_output ""
	assert_equal "$stderr" "q unsub: nosuch: no such queue"
	assert_not_exist "$(qpath nosuch)"
	assert_not_exist "$(qpath appA)"
}

@test "unsub leaves an entry of subs/ that is not a symlink alone: 65" {
	q sub events appA
	mkdir "$(qpath events)/subs/dir"
	run --separate-stderr q unsub events dir
	assert_equal "$status" 65
	assert_output ""
	assert_equal "$stderr" "q unsub: events: subs/dir: not a subscription"
	assert_dir_exists "$(qpath events)/subs/dir"
}

@test "bogus subscriptions are skipped and reported, nothing is created through them" {
	q sub events appA
	subs="$(qpath events)/subs"
	etc_before=$(statedirs /etc)
	printf 'plain file\n' >"$BATS_TEST_TMPDIR/plain"
	ln -s /etc "$subs/etc"
	ln -s "$BATS_TEST_TMPDIR/plain" "$subs/plain"
	ln -s "$BATS_TEST_TMPDIR/gone" "$subs/gone"
	# a real directory shaped like a queue, but not a symlink
	mkdir -p "$subs/dir"/{tmp,new,cur,done,failed}
	run --separate-stderr q put -m hello events
	assert_equal "$status" 66
	assert_output --regexp "$ID_RE"
	id=$output
	assert_equal "$(printf '%s\n' "$stderr" | LC_ALL=C sort)" "$(printf '%s\n' \
		"q put: events: subs/dir: not a queue, skipped" \
		"q put: events: subs/etc: not a queue, skipped" \
		"q put: events: subs/gone: not a queue, skipped" \
		"q put: events: subs/plain: not a queue, skipped")"
	# the valid subscriber got it, the topic kept nothing
	assert_equal "$(names appA new)" "$id"
	assert_equal "$(cat "$(qpath appA)/new/$id")" "hello"
	assert_equal "$(count events new)" 0
	assert_equal "$(count events tmp)" 0
	# nothing under the bogus targets
	assert_equal "$(statedirs /etc)" "$etc_before"
	assert_not_exist /etc/new
	assert_not_exist "/etc/$id"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/plain")" "plain file"
	assert_not_exist "$BATS_TEST_TMPDIR/gone"
	run find "$subs/dir" -type f
	assert_output ""
}

@test "if every subscription is bogus the message stays in the topic's new/" {
	q put -m w events >/dev/null
	mkdir "$(qpath events)/subs"
	etc_before=$(statedirs /etc)
	ln -s /etc "$(qpath events)/subs/etc"
	run --separate-stderr q put -m hello events
	assert_equal "$status" 66
	assert_output --regexp "$ID_RE"
	id=$output
	assert_equal "$stderr" "q put: events: subs/etc: not a queue, skipped"
	assert_file_exists "$(qpath events)/new/$id"
	assert_equal "$(cat "$(qpath events)/new/$id")" "hello"
	assert_equal "$(count events new)" 2
	assert_equal "$(count events tmp)" 0
	assert_equal "$(statedirs /etc)" "$etc_before"
	assert_not_exist "/etc/$id"
}

@test "-l into a topic delivers every line to every subscriber" {
	q sub events appA
	q sub events appB
	run --separate-stderr -0 q put -l events < <(printf 'one\ntwo\nthree\n')
	assert_equal "${#lines[@]}" 3
	ids=("${lines[@]}")
	expect=$(printf '%s\n' "${ids[@]}")
	assert_equal "$(names appA new)" "$expect"
	assert_equal "$(names appB new)" "$expect"
	bodies=(one two three)
	for ((k = 0; k < 3; k++)); do
		a="$(qpath appA)/new/${ids[k]}"
		b="$(qpath appB)/new/${ids[k]}"
		assert_equal "$(cat "$a")" "${bodies[k]}"
		assert_equal "$(inode "$a")" "$(inode "$b")"
		assert_equal "$(stat -c %h "$a")" 2
	done
	assert_equal "$(count events new)" 0
	assert_equal "$(count events tmp)" 0
}

@test "a subscriber on another file system gets a copy" {
	require_root
	MNT="$BATS_TEST_TMPDIR/mnt"
	mkdir "$MNT"
	mount -t tmpfs -o size=4m tmpfs "$MNT" || skip "cannot mount tmpfs"
	far="$MNT/far"
	q sub events appA
	q sub events "$far"
	assert_link_exists "$(qpath events)/subs/far"
	assert_equal "$(readlink "$(qpath events)/subs/far")" "$(realpath "$far")"
	run --separate-stderr -0 q put -m hello events
	id=$output
	assert_equal "$stderr" ""
	assert_equal "$(ls -1 "$far/new")" "$id"
	assert_equal "$(names appA new)" "$id"
	a="$(qpath appA)/new/$id"
	f="$far/new/$id"
	assert_equal "$(cat "$f")" "hello"
	cmp "$a" "$f"
	[ "$(stat -c %d "$a")" != "$(stat -c %d "$f")" ] ||
		fail "not on another file system"
	assert_equal "$(stat -c %h "$f")" 1
	assert_equal "$(stat -c %h "$a")" 1
	assert_equal "$(find "$far/tmp" -mindepth 1 | wc -l)" 0
	assert_equal "$(count events tmp)" 0
	assert_equal "$(count events new)" 0
	assert_equal "$(count appA tmp)" 0
	# the copy is an ordinary message of that queue
	run --separate-stderr -0 q take "$far"
	[[ $output == "$id",* ]] || fail "took '$output', expected $id"
}

@test "sub TOPIC lists the subscribers, by name, as sub takes them" {
	q sub events appB
	q sub events appA
	q sub events "$BATS_TEST_TMPDIR/far/appC"
	run --separate-stderr -0 q sub events
	assert_equal "$stderr" ""
	assert_equal "$output" "$(printf '%s\n' appA appB \
		"$(realpath "$BATS_TEST_TMPDIR/far/appC")")"
	# each line given back to sub changes nothing, to unsub ends it
	before=$(ls -l "$(qpath events)/subs")
	for s in "${lines[@]}"; do
		run -0 q sub events "$s"
	done
	assert_equal "$(ls -l "$(qpath events)/subs")" "$before"
	run -0 q unsub events "$(realpath "$BATS_TEST_TMPDIR/far/appC")"
	run -0 q sub events
	assert_output "$(printf '%s\n' appA appB)"
}

@test "sub TOPIC with no subscribers prints nothing, 0; a missing topic is 66" {
	q put -m x plain >/dev/null
	run --separate-stderr -0 q sub plain
	assert_output ""
	assert_equal "$stderr" ""
	assert_not_exist "$(qpath plain)/subs"
	q sub events appA
	q unsub events appA
	run --separate-stderr -0 q sub events
	assert_output ""
	run --separate-stderr -66 q sub nosuch
	assert_output ""
	assert_equal "$stderr" "q sub: nosuch: no such queue"
	assert_not_exist "$(qpath nosuch)"
}

@test "sub TOPIC skips what is no subscription and escapes odd names" {
	q sub events appA
	subs="$(qpath events)/subs"
	mkdir "$subs/dir"
	printf 'x' >"$subs/file"
	ln -s "$BATS_TEST_TMPDIR/gone"$'\n'"x" "$subs/odd"
	run --separate-stderr -0 q sub events
	assert_equal "${#lines[@]}" 2
	assert_line --index 0 appA
	assert_line --index 1 "$BATS_TEST_TMPDIR/gone\\nx"
}
