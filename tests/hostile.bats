#!/usr/bin/env bats
# A spool that someone else has tampered with.  Every state directory gets
# entries with valid message names that are not messages: a symlink to a
# secret file outside the queue, a FIFO, a socket, a directory; and a hard
# link to a file outside the queue.  Then: a state directory replaced by a
# symlink, forged leases, absurd attempt counts, hostile IDs on the command
# line, and (as root) other users of private and shared queues.

load helper

teardown() {
	if [ -n "${PUBDIR:-}" ]; then
		rm -rf -- "$PUBDIR"
	fi
}

STATES="new cur done failed"
KINDS="symlink fifo sock dir hardlink"

require_python_socket() {
	command -v python3 >/dev/null &&
		python3 -c 'import socket; socket.AF_UNIX' 2>/dev/null ||
		skip "needs python3 to make a unix socket"
}

# Make a unix socket named $2 in directory $1 (relative: socket paths are
# short).
make_socket() {
	python3 -c 'import os, socket, sys
os.chdir(sys.argv[1])
socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind(sys.argv[2])' "$1" "$2"
}

# The planted name of KIND ($2) in STATE ($1): a valid message name for
# that state, its ID unlike any real one (and after them in FIFO order).
planted() {
	local st=$1 kind=$2 s k sfx
	case $st in
	new) s=1 sfx= ;;
	cur) s=2 sfx=",a=1,l=$FUTURE" ;;
	done) s=3 sfx=",a=1" ;;
	failed) s=4 sfx=",a=1" ;;
	esac
	case $kind in
	symlink) k=1 ;;
	fifo) k=2 ;;
	sock) k=3 ;;
	dir) k=4 ;;
	hardlink) k=5 ;;
	esac
	printf '19000000%s%s.000000.1_0.%s%s\n' "$s" "$k" "$kind" "$sfx"
}

# The ID part of a planted name.
planted_id() {
	local n
	n=$(planted "$1" "$2")
	printf '%s\n' "${n%%,*}"
}

# Run the q binary of this moment for the rest of the test, even if the
# checkout is rebuilt meanwhile.
pin_q() {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	cp -- "$ROOT/q" "$BATS_TEST_TMPDIR/bin/q"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

# A queue named $1 with one real message in each state (M_NEW, M_CUR
# claimed as T_CUR, M_DONE, M_FAILED) and, in each state directory, every
# kind of planted entry.  SECRET and OUTSIDE are files outside the queue.
hostile_queue() {
	local qn=$1 qp st t
	require_python_socket
	qp=$(qpath "$qn")
	FUTURE=$(($(date +%s) + 3600))
	SECRET="$BATS_TEST_TMPDIR/secret"
	OUTSIDE="$BATS_TEST_TMPDIR/outside"
	printf 'TOP-SECRET-CONTENT\n' >"$SECRET"
	chmod 600 "$SECRET"
	printf 'OUTSIDE-CONTENT\n' >"$OUTSIDE"
	chmod 640 "$OUTSIDE"
	M_DONE=$(q put -m done "$qn")
	t=$(q take "$qn")
	q ack "$qn" "$t"
	M_FAILED=$(q put -m failed "$qn")
	t=$(q take "$qn")
	q fail "$qn" "$t"
	M_CUR=$(q put -m cur "$qn")
	T_CUR=$(q take "$qn")
	M_NEW=$(q put -m new "$qn")
	for st in $STATES; do
		ln -s "$SECRET" "$qp/$st/$(planted "$st" symlink)"
		mkfifo "$qp/$st/$(planted "$st" fifo)"
		make_socket "$qp/$st" "$(planted "$st" sock)"
		mkdir "$qp/$st/$(planted "$st" dir)"
		ln "$OUTSIDE" "$qp/$st/$(planted "$st" hardlink)"
	done
	INTACT=$(look_outside "$qn")
	[ "$(grep -c '^19000000' <<<"$INTACT")" -eq 16 ]
}

# The secret and the outside file (inode, mode, owner, size, mtime), and
# every planted entry but the hard links with its type and symlink target.
look_outside() {
	local qp
	qp=$(qpath "$1")
	stat -c '%n %i %a %u %g %s %Y' "$SECRET" "$OUTSIDE"
	find "$qp/new" "$qp/cur" "$qp/done" "$qp/failed" -mindepth 1 -maxdepth 1 \
		-name '19000000*' ! -name '*.hardlink*' -printf '%f %y %l %H\n' |
		LC_ALL=C sort
}

# Every planted entry but the hard links, with its type and symlink target.
foreign_entries() {
	local qp st
	qp=$(qpath "$1")
	for st in $STATES; do
		find "$qp/$st" -mindepth 1 -maxdepth 1 -name '19000000*' \
			! -name '*.hardlink*' -printf '%P %y %l\n' |
			sed "s|^|$st/|"
	done | LC_ALL=C sort
}

# The secret and the outside file are as they were, and each planted
# non-message is where it was planted, of the kind it was.
intact() {
	local line
	[ "$(look_outside "$1")" = "$INTACT" ] || return 1
	IFS= read -r line <"$SECRET"
	[ "$line" = TOP-SECRET-CONTENT ] || return 1
	IFS= read -r line <"$OUTSIDE"
	[ "$line" = OUTSIDE-CONTENT ]
}

# Problems in the open calls traced in $1 (strace -y): the secret opened,
# a FIFO or socket entry opened (or even tried), a symlink entry opened
# without O_NOFOLLOW.
bad_opens() {
	awk -v secret="$SECRET" '
		index($0, secret) { print "opened the secret: " $0; next }
		/"[^"]*\.(fifo|sock)(,[^"]*)?"/ { print "opened a fifo or socket: " $0; next }
		/"[^"]*\.symlink(,[^"]*)?"/ && !/O_NOFOLLOW/ {
			print "may follow a symlink: " $0
		}' "$1"
}

# The commands listed by q -h.
q_commands() {
	q -h | awk '{ print $1 == "usage:" ? $3 : $2 }' |
		grep -v -e '^command$' -e '^--version$' | sort -u
}

# Print the invocations to run against hostile queue hq, one per line:
# the exit status it must have ("-" when it depends on the queue's state)
# and the arguments of q.  No argument holds a space.
hostile_invocations() {
	local qp st kind n a b
	qp=$(qpath hq)
	cat <<-EOF
		- ls hq
		- ls -l hq
		- ls --json hq
		- ls -s new hq
		- ls -s cur hq
		- ls -s done hq
		- ls -s failed hq
		- stat hq
		- stat --json hq
		- stat
		- sweep -n hq
		- cat hq $M_NEW $M_CUR $M_DONE $M_FAILED
		- wait -t 1 hq
		- config hq
		- config hq lease 1m
		- pause hq
		- take hq
		- resume hq
		- sub topic hq
		- put -m fanned-out topic
		- unsub topic hq
		- put -m hostile hq
		- take -l 1 hq
		- touch hq $T_CUR
		- release hq $T_CUR
		- work -n 3 hq -- cat
		- work hq -- true
		- sweep hq
		- sweep
		- retry hq -a
		- replay -s @0 hq
		- purge -s done hq
		- purge -s failed -o 0 hq
		- ls
		65 drop hq
		65 drop -f hq
	EOF
	# every planted non-message, named by its name, its ID, its claim
	# token or its path, in turn
	for st in $STATES; do
		for kind in symlink fifo sock dir; do
			n=$(planted "$st" "$kind")
			case $kind in
			symlink) a=$n b=$qp/$st/$n ;;
			fifo) a=${n%%,*} b=$n ;;
			sock) a=$qp/$st/$n b=${n%%,*} ;;
			dir) a=${n%%,*},a=1 b=$qp/$st/$n ;;
			esac
			[ "$st" != new ] || a=${a%,a=1}
			echo "66 cat hq $a"
			echo "66 rm hq $b"
			case $st in
			cur)
				echo "66 ack hq $a"
				echo "66 release hq $b"
				echo "66 fail hq $a"
				echo "66 touch hq $b"
				;;
			done) echo "66 replay hq $a" ;;
			failed) echo "66 retry hq $b" ;;
			esac
		done
		# the hard link is a regular file with a valid name: to q it is
		# a message (fan-out makes such links), which may be read
		echo "- cat hq $(planted_id "$st" hardlink)"
	done
}

@test "every command, run against planted symlinks, FIFOs, sockets, directories and hard links, finishes and opens none of them" {
	local line expect cmd log="$BATS_TEST_TMPDIR/opens" bad=() ran=() c
	local -a argv invocations
	require_strace
	pin_q
	hostile_queue hq
	mapfile -t invocations < <(hostile_invocations)
	for line in "${invocations[@]}"; do
		read -r expect cmd <<<"$line"
		read -ra argv <<<"$cmd"
		ran+=("${argv[0]}")
		run --separate-stderr env ASAN_OPTIONS=detect_leaks=0 \
			strace -f -y -qq -o "$log" -e trace=open,openat,openat2 \
			timeout 10 q "${argv[@]}" </dev/null
		if [ "$status" -eq 124 ] || [ "$status" -ge 128 ]; then
			bad+=("q $cmd: did not finish (status $status)")
		elif [ "$expect" != - ] && [ "$status" -ne "$expect" ]; then
			bad+=("q $cmd: status $status, not $expect: $stderr")
		fi
		if [ "$expect" != - ] && [ "${#stderr_lines[@]}" -ne 1 ]; then
			bad+=("q $cmd: not a one-line error: '$stderr'")
		fi
		if [[ $output$stderr == *TOP-SECRET* ]]; then
			bad+=("q $cmd: printed the secret")
		fi
		while read -r c; do
			[ -n "$c" ] && bad+=("q $cmd: $c")
		done < <(bad_opens "$log")
		if ! intact hq; then
			bad+=("q $cmd: a planted entry or an outside file changed")
		fi
	done
	printf '%s\n' "${bad[@]}"
	[ "${#bad[@]}" -eq 0 ]
	# every command of q -h was run
	for c in $(q_commands); do
		[[ " ${ran[*]} " == *" $c "* ]] || {
			echo "no hostile run of q $c"
			return 1
		}
	done
	intact hq
}

@test "ls, stat and sweep flag every planted non-message as foreign, each on one line" {
	local qp st kind n nforeign opt
	hostile_queue hq
	qp=$(qpath hq)
	# more foreign names: a newline in the name, attempts beyond any count
	printf 'x\n' >"$qp/new/evil"$'\n'"name"
	printf 'x\n' >"$qp/new/1800000019.000000.1_0.absurd,a=99999999999"
	nforeign=$((4 * 4 + 2))

	run -0 --separate-stderr q ls hq
	# one line per entry: 4 real, 4 hard links, the foreign ones
	[ "${#lines[@]}" -eq $((4 + 4 + nforeign)) ]
	[ "$(grep -c ' foreign ' <<<"$output")" -eq "$nforeign" ]
	for st in $STATES; do
		for kind in symlink fifo sock dir; do
			n=$(planted "$st" "$kind")
			assert_line --regexp "^${n//./\\.} +$st +foreign "
		done
	done
	assert_line --regexp '^evil\\nname +new +foreign '
	assert_line --regexp '^1800000019\.000000\.1_0\.absurd,a=99999999999 +new +foreign '
	# the hard links are messages: regular files with valid names
	for st in $STATES; do
		assert_line --regexp "^$(planted_id "$st" hardlink) +$st +p=5 "
	done

	# -0: one record per entry, whatever the names hold
	run -0 bash -c 'q ls -0 hq | tr -cd "\0" | wc -c'
	[ "$output" -eq $((4 + 4 + nforeign)) ]

	if command -v jq >/dev/null; then
		run -0 bash -c 'q ls --json hq | jq -s "map(select(.foreign)) | length"'
		[ "$output" -eq "$nforeign" ]
		run -0 bash -c 'q stat --json hq | jq .foreign'
		[ "$output" -eq "$nforeign" ]
	fi
	run -0 --separate-stderr q stat hq
	assert_line --regexp "^ +foreign +$nforeign\$"

	for opt in -n -v; do
		# shellcheck disable=SC2086
		run -0 --separate-stderr q sweep $opt hq
		[ -z "$stderr" ]
		[ "${#lines[@]}" -eq "$nforeign" ]
		[ "$(grep -c ': foreign file, left alone$' <<<"$output")" -eq "$nforeign" ]
		for st in $STATES; do
			for kind in symlink fifo sock dir; do
				assert_line "hq: $st/$(planted "$st" "$kind"): foreign file, left alone"
			done
		done
		assert_line 'hq: new/evil\nname: foreign file, left alone'
		assert_line 'hq: new/1800000019.000000.1_0.absurd,a=99999999999: foreign file, left alone'
	done
	intact hq
	[ -f "$qp/new/evil"$'\n'"name" ]
	[ -f "$qp/new/1800000019.000000.1_0.absurd,a=99999999999" ]
}

@test "rm, purge, retry -a, replay -s and sweep never delete or move a planted non-message" {
	local qp before st kind n t
	hostile_queue hq
	qp=$(qpath hq)
	before=$(foreign_entries hq)
	[ "$(wc -l <<<"$before")" -eq 16 ]

	for st in $STATES; do
		for kind in symlink fifo sock dir; do
			n=$(planted "$st" "$kind")
			run -66 --separate-stderr q rm hq "$n"
			[ "${#stderr_lines[@]}" -eq 1 ]
			run -66 --separate-stderr q rm hq "${n%%,*}"
			run -66 --separate-stderr q rm hq "$qp/$st/$n"
		done
	done
	[ "$(foreign_entries hq)" = "$before" ]

	# the real failed message goes back to new/, the planted ones stay
	run -0 --separate-stderr q retry hq -a
	[ -f "$qp/new/$M_FAILED,a=1,b=1" ]
	[ "$(foreign_entries hq)" = "$before" ]

	run -0 --separate-stderr q replay -s @0 hq
	[ -f "$qp/new/$M_DONE,a=1,b=1" ]
	[ "$(foreign_entries hq)" = "$before" ]

	# something real to purge in done/ and failed/
	run -0 q ack hq "$T_CUR"
	t=$(q take hq)
	run -0 q fail hq "$t"
	[ "$(find "$qp/done" "$qp/failed" -name '17*' -o -name '18*' | wc -l)" -eq 2 ]
	run -0 --separate-stderr q purge -s done hq
	run -0 --separate-stderr q purge -s failed hq
	[ "$(find "$qp/done" "$qp/failed" -name '17*' -o -name '18*' | wc -l)" -eq 0 ]
	[ "$(foreign_entries hq)" = "$before" ]

	run -0 --separate-stderr q sweep hq
	[ "$(foreign_entries hq)" = "$before" ]
	run -0 --separate-stderr q sweep
	[ "$(foreign_entries hq)" = "$before" ]
	intact hq
}

@test "a forged lease (l=9999999999 and beyond) is treated as expired: sweep returns the claim" {
	local qp id1=1800000000.000001.7_0.forged id2=1800000000.000002.7_0.forged
	local id3=1800000000.000003.7_0.forged
	q put -m seed jobs >/dev/null
	qp=$(qpath jobs)
	rm -- "$qp"/new/*
	printf 'one\n' >"$qp/cur/$id1,a=1,l=9999999999"
	printf 'two\n' >"$qp/cur/$id2,a=2,l=99999999999,w=1@$(hostname)"
	# just past the longest lease from now
	printf 'three\n' >"$qp/cur/$id3,a=1,l=$(($(date +%s) + 12 * 3600 + 120))"

	run -0 q ls jobs
	[ "$(grep -c ' expired ' <<<"$output")" -eq 3 ]
	if command -v jq >/dev/null; then
		run -0 bash -c 'q stat --json jobs | jq .cur.expired'
		assert_output 3
	fi

	run -0 --separate-stderr q sweep jobs
	assert_line --partial "$id1"
	assert_line --partial "$id2"
	assert_line --partial "$id3"
	[ "$(count jobs cur)" -eq 0 ]
	run names jobs new
	assert_output "$(printf '%s\n' "$id1,a=1" "$id2,a=2" "$id3,a=1")"
	run -0 q cat jobs "$id1" "$id2" "$id3"
	assert_output "$(printf 'one\ntwo\nthree')"
	# and they can be claimed again, with a real lease
	run -0 q take jobs
	assert_output "$id1,a=2"
}

@test "absurd attempt counts: a=2147483647 does not wrap, a=99999999999 is foreign" {
	local qp big=1800000000.000001.7_0.absurd huge=1800000000.000002.7_0.absurd
	local spent=1800000000.000003.7_0.absurd t
	q put -m seed jobs >/dev/null
	qp=$(qpath jobs)
	rm -- "$qp"/new/*
	printf 'big\n' >"$qp/new/$big,a=2147483647"
	printf 'huge\n' >"$qp/new/$huge,a=99999999999"
	printf 'spent\n' >"$qp/cur/$spent,a=2147483647,l=1000000000"

	# the claim keeps the largest count there is
	run -0 --separate-stderr q take -l 1m jobs
	assert_output "$big,a=2147483647"
	t=$output
	run -0 q ls jobs
	assert_line --regexp "^${big//./\\.} +cur +p=5 a=2147483647 "
	assert_line --regexp "^${huge//./\\.},a=99999999999 +new +foreign "
	run -0 q release jobs "$t"
	run -0 q cat jobs "$big"
	assert_output big

	# out of attempts: failed/, not new/
	run -0 --separate-stderr q sweep -v jobs
	assert_line "jobs: cur/$spent,a=2147483647,l=1000000000: out of attempts, moved to failed/"
	assert_line "jobs: new/$huge,a=99999999999: foreign file, left alone"
	[ -f "$qp/failed/$spent,a=2147483647" ]
	[ -f "$qp/new/$huge,a=99999999999" ]
	[ "$(<"$qp/new/$huge,a=99999999999")" = huge ]
	# the foreign one is never claimed
	run -0 q take jobs
	assert_output "$big,a=2147483647"
	run -75 q take jobs
	run -0 q release jobs "$big,a=2147483647"

	# a worker runs it once more at most, and then it is done or failed
	run -0 q work -q jobs -- cat
	assert_output big
	[ "$(count jobs new)" -eq 1 ]
	[ "$(count jobs cur)" -eq 0 ]
	[ -f "$qp/done/$big,a=2147483647" ]
}

# A 256-byte reference: an ID whose host part is too long.
long_ref() {
	local host
	host=$(printf 'h%.0s' {1..234})
	printf '1700000000.000000.1_0.%s' "$host"
}

@test "hostile IDs on the command line: a one-line error, 65, and nothing changes" {
	local qp cmd ref before n=0 log="$BATS_TEST_TMPDIR/opens" bad=()
	local -a refs
	require_strace
	pin_q
	q put -m one jobs >/dev/null
	q put -m two jobs >/dev/null
	run -0 q take jobs
	q put -m three jobs >/dev/null
	qp=$(qpath jobs)
	mkdir "$BATS_TEST_TMPDIR/elsewhere"
	printf 'not a message\n' >"$BATS_TEST_TMPDIR/elsewhere/1700000000.000000.1_0.h"
	refs=(
		../../etc/passwd
		/etc/passwd
		""
		"$(long_ref)"
		$'1700000000.000000.1_0.h\nx'
		$'\n'
		"$BATS_TEST_TMPDIR/elsewhere/1700000000.000000.1_0.h"
		"../elsewhere/1700000000.000000.1_0.h"
		"$qp/../../elsewhere/1700000000.000000.1_0.h"
		"1700000000.000000.1_0.h/../../x"
		"-"
	)
	[ "${#refs[3]}" -eq 256 ]
	before=$(snapshot jobs)
	for cmd in cat ack release fail touch retry replay rm; do
		for ref in "${refs[@]}"; do
			run --separate-stderr env ASAN_OPTIONS=detect_leaks=0 \
				strace -f -qq -o "$log" -e trace=open,openat,openat2 \
				timeout 10 q "$cmd" jobs "$ref" </dev/null
			n=$((n + 1))
			if [ "$status" -ne 65 ] || [ -n "$output" ] ||
				[ "${#stderr_lines[@]}" -ne 1 ] ||
				[[ $stderr != "q $cmd: "*jobs* ]] ||
				[[ $stderr != *"${ref%%$'\n'*}"* ]]; then
				bad+=("q $cmd jobs '${ref//$'\n'/\\n}': status $status, stdout '$output', stderr '$stderr'")
			fi
			if grep -q -e passwd -e elsewhere "$log"; then
				bad+=("q $cmd jobs '$ref' opened: $(grep -e passwd -e elsewhere "$log")")
			fi
			if [ "$(snapshot jobs)" != "$before" ]; then
				bad+=("q $cmd jobs '$ref' changed the queue")
				before=$(snapshot jobs)
			fi
		done
	done
	echo "$n runs"
	printf '%s\n' "${bad[@]}"
	[ "${#bad[@]}" -eq 0 ]
	[ "$(<"$BATS_TEST_TMPDIR/elsewhere/1700000000.000000.1_0.h")" = "not a message" ]
}

@test "a state directory replaced by a symlink: every command refuses and nothing is written through it" {
	local qp else="$BATS_TEST_TMPDIR/elsewhere" st c before log="$BATS_TEST_TMPDIR/opens"
	local -a bad=() argv
	require_strace
	pin_q
	for st in new cur done failed tmp; do
		q put -m "hello" "sq-$st" >/dev/null
		qp=$(qpath "sq-$st")
		mkdir -p "$else/$st"
		printf 'lure\n' >"$else/$st/1700000000.000000.1_0.lure"
		rm -rf -- "${qp:?}/$st"
		ln -s "$else/$st" "$qp/$st"
	done
	before=$(cd "$else" && find . -printf '%p %y %s %T@\n' | LC_ALL=C sort)
	for st in new cur done failed tmp; do
		for c in "put -m x sq-$st" "take sq-$st" "cat sq-$st 1700000000.000000.1_0.lure" \
			"ack sq-$st 1700000000.000000.1_0.lure" "release sq-$st 1700000000.000000.1_0.lure" \
			"fail sq-$st 1700000000.000000.1_0.lure" "touch sq-$st 1700000000.000000.1_0.lure" \
			"work sq-$st -- true" "wait -t 1 sq-$st" "sweep sq-$st" "ls sq-$st" "stat sq-$st" \
			"retry sq-$st -a" "replay -s @0 sq-$st" "purge -s done sq-$st" \
			"rm sq-$st 1700000000.000000.1_0.lure" "pause sq-$st" "resume sq-$st" \
			"sub sq-$st other" "sub other sq-$st" "unsub sq-$st other" \
			"config sq-$st" "config sq-$st lease 1m"; do
			read -ra argv <<<"$c"
			run --separate-stderr env ASAN_OPTIONS=detect_leaks=0 \
				strace -f -y -qq -o "$log" -e trace=open,openat,openat2 \
				timeout 10 q "${argv[@]}" </dev/null
			if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || [ "$status" -ge 128 ]; then
				bad+=("q $c: status $status")
			elif [ "${#stderr_lines[@]}" -ne 1 ] || [[ $stderr != *sq-$st* ]]; then
				bad+=("q $c: not a one-line error naming the queue: '$stderr'")
			fi
			if grep -q -F "$else" "$log"; then
				bad+=("q $c: opened $(grep -F "$else" "$log" | head -1)")
			fi
		done
	done
	# a topic whose subscriptions lead to these queues delivers nothing
	# through them, and keeps the message
	q put -m seed tp >/dev/null
	rm -- "$(qpath tp)"/new/*
	mkdir "$(qpath tp)/subs"
	for st in new cur done failed tmp; do
		ln -s "$(qpath "sq-$st")" "$(qpath tp)/subs/sq-$st"
	done
	run --separate-stderr env ASAN_OPTIONS=detect_leaks=0 \
		strace -f -y -qq -o "$log" -e trace=open,openat,openat2 \
		timeout 10 q put -m fanned tp </dev/null
	echo "fan-out: $status '$output' '$stderr'"
	[ "$status" -eq 66 ]
	[ "${#stderr_lines[@]}" -eq 5 ]
	if grep -F "$else" "$log"; then
		bad+=("fan-out opened a file through a symlinked state directory")
	fi
	[ "$(count tp new)" -eq 1 ]
	printf '%s\n' "${bad[@]}"
	[ "${#bad[@]}" -eq 0 ]
	[ "$(cd "$else" && find . -printf '%p %y %s %T@\n' | LC_ALL=C sort)" = "$before" ]
}

# A directory that other users can reach, for the tests run as them.
public_dir() {
	PUBDIR=$(mktemp -d /tmp/q-hostile.XXXXXX)
	chmod 755 "$PUBDIR"
	export QDIR="$PUBDIR/spool"
	mkdir -m 755 "$QDIR"
}

# Run q as user $1 (with group $2 and supplementary groups $3, "-" for
# none) and umask 077; sets status, output, stderr.
as_user() {
	local uid=$1 gid=$2 groups=$3
	shift 3
	local -a g=(--clear-groups)
	[ "$groups" = - ] || g=(--groups "$groups")
	run --separate-stderr setpriv --reuid="$uid" --regid="$gid" "${g[@]}" \
		-- sh -c 'umask 077; exec "$@"' sh "$@"
}

@test "another user cannot read a 0700 queue: 77 and a one-line error" {
	local id c
	local -a argv
	require_root
	command -v setpriv >/dev/null || skip "needs setpriv"
	public_dir
	umask 077
	id=$(q put -m private mine)
	[ "$(stat -c %a "$QDIR/mine")" = 700 ]
	umask 022
	for c in "ls mine" "stat mine" "take mine" "cat mine $id" "put -m intruder mine" \
		"sweep mine" "rm mine $id" "purge -s done mine" "config mine lease 1m"; do
		read -ra argv <<<"$c"
		as_user 65534 65534 - q "${argv[@]}"
		echo "q $c: $status '$output' '$stderr'"
		[ "$status" -eq 77 ]
		[ -z "$output" ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ $stderr == *mine* ]]
	done
	run -0 q cat mine "$id"
	assert_output private
	[ "$(count mine new)" -eq 1 ]
	[ -z "$(find "$QDIR/mine" -user 65534)" ]
}

@test "a setgid 2770 queue is shared by its group: one user's put is taken and acked by another, even with umask 077" {
	local gid=65534 qp id t
	require_root
	command -v setpriv >/dev/null || skip "needs setpriv"
	public_dir
	getent group nogroup >/dev/null && gid=$(getent group nogroup | cut -d: -f3)
	qp="$QDIR/shared"
	mkdir "$qp"
	chgrp "$gid" "$qp"
	chmod 2770 "$qp"

	# user 40001 creates the state directories and puts, umask 077
	as_user 40001 40001 "$gid" q put -m "from 40001" shared
	[ "$status" -eq 0 ]
	id=$output
	[ "$(stat -c '%a %g' "$qp/new")" = "2770 $gid" ]
	[ "$(stat -c '%a %g %u' "$qp/new/$id")" = "660 $gid 40001" ]

	# user 40002, also in the group, takes, reads and acks it
	as_user 40002 40002 "$gid" q take shared
	[ "$status" -eq 0 ]
	t=$output
	[ "$t" = "$id,a=1" ]
	as_user 40002 40002 "$gid" q cat shared "$t"
	[ "$status" -eq 0 ]
	[ "$output" = "from 40001" ]
	as_user 40002 40002 "$gid" q ack shared "$t"
	[ "$status" -eq 0 ]
	[ -f "$qp/done/$t" ]

	# and the other way round, through q work
	as_user 40002 40002 "$gid" q put -m "from 40002" shared
	[ "$status" -eq 0 ]
	id=$output
	as_user 40001 40001 "$gid" q work -q shared -- cat
	[ "$status" -eq 0 ]
	[ "$output" = "from 40002" ]
	[ -f "$qp/done/$id,a=1" ]

	# a user outside the group gets nothing, with a clear error
	as_user 40003 40003 - q take shared
	[ "$status" -eq 77 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
}
