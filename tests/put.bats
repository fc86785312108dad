#!/usr/bin/env bats
# q put: enqueueing.

load helper

@test "put reads stdin, prints the ID, and the message is in new/" {
	run --separate-stderr -0 q put jobs <<<"hello"
	assert_output --regexp '^[0-9]{10}\.[0-9]{6}\.[0-9]+_[0-9]+\.[A-Za-z0-9.-]+$'
	assert_file_exists "$(qpath jobs)/new/$output"
	assert_equal "$(cat "$(qpath jobs)/new/$output")" "hello"
	assert_equal "$(count jobs tmp)" 0
}

@test "put creates the queue and its state directories" {
	cd "$BATS_TEST_TMPDIR"
	run -0 q put -m x ./made/queue
	for d in tmp new cur done failed; do
		assert_dir_exists "$BATS_TEST_TMPDIR/made/queue/$d"
	done
}

@test "put honours the umask when creating a queue" {
	umask 077
	q put -m x jobs >/dev/null
	run stat -c %a "$(qpath jobs)" "$(qpath jobs)/new"
	assert_output $'700\n700'
}

@test "-m TEXT enqueues TEXT and a newline, one message per -m" {
	run -0 q put -m one -m two jobs
	assert_equal "${#lines[@]}" 2
	assert_equal "$(cat "$(qpath jobs)/new/${lines[0]}")" "one"
	assert_equal "$(od -An -c "$(qpath jobs)/new/${lines[1]}" | tr -d ' ')" 'two\n'
}

@test "-l enqueues one message per line, in order, keeping the newline" {
	run -0 q put -l jobs < <(printf 'a\nb\nc')
	assert_equal "${#lines[@]}" 3
	assert_equal "$(count jobs new)" 3
	assert_equal "$(od -An -c "$(qpath jobs)/new/${lines[0]}" | tr -d ' ')" 'a\n'
	assert_equal "$(od -An -c "$(qpath jobs)/new/${lines[2]}" | tr -d ' ')" 'c'
	# IDs sort in put order
	assert_equal "$(names jobs new)" "$(printf '%s\n' "${lines[@]}")"
}

@test "-0 enqueues NUL-separated records without the NUL" {
	run -0 q put -0 jobs < <(printf 'x y\0second\nline\0')
	assert_equal "${#lines[@]}" 2
	assert_equal "$(cat "$(qpath jobs)/new/${lines[0]}")" "x y"
	assert_equal "$(cat "$(qpath jobs)/new/${lines[1]}")" $'second\nline'
}

@test "each FILE is one message; - is stdin" {
	printf 'file one' >"$BATS_TEST_TMPDIR/f1"
	run -0 q put jobs "$BATS_TEST_TMPDIR/f1" - <<<"from stdin"
	assert_equal "${#lines[@]}" 2
	assert_equal "$(cat "$(qpath jobs)/new/${lines[0]}")" "file one"
	assert_equal "$(cat "$(qpath jobs)/new/${lines[1]}")" "from stdin"
}

@test "an empty stdin is one empty message" {
	run -0 q put jobs </dev/null
	assert_file_empty "$(qpath jobs)/new/$output"
}

@test "binary bodies are kept byte for byte" {
	head -c 100000 /dev/urandom >"$BATS_TEST_TMPDIR/bin"
	id=$(q put jobs <"$BATS_TEST_TMPDIR/bin")
	cmp "$BATS_TEST_TMPDIR/bin" "$(qpath jobs)/new/$id"
}

@test "-p sets the priority attribute; the default 5 is omitted" {
	run -0 q put -p 0 -m x jobs
	assert_file_exists "$(qpath jobs)/new/$output,p=0"
	run -0 q put --priority 5 -m x jobs
	assert_file_exists "$(qpath jobs)/new/$output"
}

@test "-d sets the not-before time" {
	now=$(date +%s)
	run -0 q put -d 1h -m later jobs
	f=$(names jobs new)
	[[ $f == "$output,d="* ]]
	d=${f##*,d=}
	((d >= now + 3600 && d <= now + 3600 + 5))
}

@test "--no-sync still delivers the message" {
	run -0 q put --no-sync -m quick jobs
	assert_equal "$(cat "$(qpath jobs)/new/$output")" "quick"
}

@test "IDs are unique across many puts" {
	run -0 q put -l jobs < <(seq 1 500)
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort -u | wc -l)" 500
	assert_equal "$(count jobs new)" 500
}

@test "a bad priority is exit 65 and changes nothing" {
	q put -m x jobs >/dev/null
	before=$(snapshot jobs)
	for p in 10 -1 x 1.5 05x; do
		run --separate-stderr -65 q put -p "$p" -m y jobs
		assert_equal "$stderr" "q put: invalid priority: $p"
		assert_output ""
	done
	assert_equal "$(snapshot jobs)" "$before"
}

@test "a bad delay is exit 65 and creates nothing" {
	run --separate-stderr -65 q put -d 5x -m y jobs
	assert_equal "$stderr" "q put: invalid delay: 5x"
	assert_not_exists "$(qpath jobs)"
}

@test "a missing FILE is exit 66 and creates nothing" {
	run --separate-stderr -66 q put jobs /nonexistent/file
	assert_equal "$stderr" "q put: /nonexistent/file: No such file or directory"
	assert_not_exists "$(qpath jobs)"
}

@test "-l and -0 together, no queue, unknown option: exit 64 with usage" {
	run --separate-stderr -64 q put -l -0 jobs
	assert_equal "${stderr_lines[0]}" "q put: -l and -0 exclude each other"
	[[ ${stderr_lines[1]} == "usage: q put "* ]]
	run --separate-stderr -64 q put
	assert_equal "${stderr_lines[0]}" "q put: missing queue"
	[[ ${stderr_lines[1]} == "usage: q put "* ]]
	run --separate-stderr -64 q put --bogus jobs
	[[ $stderr == *"usage: q put "* ]]
	assert_not_exists "$(qpath jobs)"
}

@test "a queue name with a dot first is exit 65" {
	run --separate-stderr -65 q put -m x ..
	assert_equal "$stderr" "q put: ..: invalid queue name"
	run --separate-stderr -65 q put -m x .hidden
}

@test "QDIR, then XDG_STATE_HOME, then HOME locate named queues" {
	q put -m x one >/dev/null
	assert_dir_exists "$QDIR/one/new"
	unset QDIR
	XDG_STATE_HOME="$BATS_TEST_TMPDIR/xdg" q put -m x two >/dev/null
	assert_dir_exists "$BATS_TEST_TMPDIR/xdg/q/two/new"
	HOME="$BATS_TEST_TMPDIR/home" q put -m x three >/dev/null
	assert_dir_exists "$BATS_TEST_TMPDIR/home/.local/state/q/three/new"
}

@test "a path to a file that is not a queue is exit 66" {
	touch "$BATS_TEST_TMPDIR/plain"
	run --separate-stderr -66 q put -m x "$BATS_TEST_TMPDIR/plain"
	assert_equal "$stderr" "q put: $BATS_TEST_TMPDIR/plain: not a queue"
}

@test "a state directory replaced by a symlink is refused" {
	q put -m x jobs >/dev/null
	mkdir "$BATS_TEST_TMPDIR/elsewhere"
	rm -r "$(qpath jobs)/new"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$(qpath jobs)/new"
	run --separate-stderr -66 q put -m y jobs
	assert_equal "$stderr" "q put: jobs: not a queue"
	assert_equal "$(ls "$BATS_TEST_TMPDIR/elsewhere" | wc -l)" 0
}

@test "a shared group queue gives message files the group's permissions" {
	mkdir -p "$QDIR/shared"
	chmod 2770 "$QDIR/shared"
	umask 077
	id=$(q put -m x shared)
	run stat -c %a "$QDIR/shared/new/$id"
	assert_output 660
}

@test "in a shared group queue, put creates group-usable state directories" {
	mkdir -p "$QDIR/shared"
	chmod 2770 "$QDIR/shared"
	umask 077
	q put -m x shared >/dev/null
	run stat -c %a "$QDIR/shared/new" "$QDIR/shared/cur" "$QDIR/shared/tmp"
	assert_output $'2770\n2770\n2770'
}
