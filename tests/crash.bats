#!/usr/bin/env bats
# Crashes and failures at every step.  A fault loop in the manner of
# SQLite's: for put, take, ack and sweep, each system call that q itself
# makes (found in a traced baseline run) is made to fail in turn with EIO,
# ENOSPC and EDQUOT, and the process is killed there with SIGKILL; after
# each run the spool must be in the state before or the state after the
# command, never between, with everything printed true.  Then a full ext4
# image where a rename needs its target directory to grow, and power cuts
# simulated by copying a loop image without syncing.

load helper

# The system calls the fault loop fails, one position at a time.
TRACED=openat,write,fdatasync,fsync,close,renameat2,linkat,unlinkat,getdents64

teardown() {
	local m
	# innermost first: the copies were mounted after the originals
	for m in $(printf '%s\n' "${MOUNTED[@]}" | tac); do
		if mountpoint -q "$m"; then
			umount "$m" 2>/dev/null || umount -l "$m"
		fi
	done
	if command -v btrfs >/dev/null; then
		btrfs device scan --forget >/dev/null 2>&1 || true
	fi
}

MOUNTED=()

# strace, and for a dynamic q its -k (stack traces), which tells q's own
# calls from the dynamic loader's.
require_strace_k() {
	require_strace
	command -v readelf >/dev/null || skip "needs readelf (binutils)"
	q_is_static || strace -qq -k -o /dev/null true 2>/dev/null ||
		skip "strace cannot print stack traces (-k)"
}

# ---------------------------------------------------------------------------
# The fault loop.

# Q is the queue under test and TPL the pristine copy each run starts from.
# BODY maps each ID of the template to its body (put adds "hello"); ORDER
# lists those IDs.
declare -gA BODY
ORDER=()

# Put a message with body $2 into the template queue; its ID goes into
# the variable named $1.
tpl_put() {
	local id
	id=$(q put -m "$2" "$Q") || return 1
	BODY[$id]=$2
	ORDER+=("$id")
	printf -v "$1" '%s' "$id"
}

# A queue with a message in each state, built once per test:
#   new/     M1 (the oldest ready one, which take claims) and M2
#   cur/     C (claimed, lease 5 minutes: TOKEN_C) and E (lease 1 s)
#   done/    D
#   failed/  F
make_template() {
	local t
	# the q under test (tests/run may run the fallback build), as it is
	# now, for the whole loop
	mkdir "$BATS_TEST_TMPDIR/bin"
	cp -- "$(command -v q)" "$BATS_TEST_TMPDIR/bin/q"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH"
	Q="$QDIR/jobs"
	TPL="$BATS_TEST_TMPDIR/template"
	tpl_put ID_C c
	TOKEN_C=$(q take "$Q")
	[ "$TOKEN_C" = "$ID_C,a=1" ]
	tpl_put ID_E e
	t=$(q take -l 1 "$Q")
	[ "$t" = "$ID_E,a=1" ]
	tpl_put ID_D d
	t=$(q take "$Q")
	q ack "$Q" "$t"
	tpl_put ID_F f
	t=$(q take "$Q")
	q fail "$Q" "$t"
	tpl_put ID_M1 m1
	tpl_put ID_M2 m2
	[ "$(count jobs new)" -eq 2 ] && [ "$(count jobs cur)" -eq 2 ]
	[ "$(count jobs done)" -eq 1 ] && [ "$(count jobs failed)" -eq 1 ]
	cp -a -- "$Q" "$TPL"
}

# Wait until the lease of E has passed.
wait_expired() {
	local f lease k
	f=$(find "$TPL/cur" -name "$ID_E,*")
	lease=${f##*,l=}
	for ((k = 0; k < 50; k++)); do
		[ "$(date +%s)" -gt "$lease" ] && return 0
		sleep 0.1
	done
	return 1
}

reset_queue() {
	rm -rf -- "$Q"
	cp -a -- "$TPL" "$Q"
}

# Look at the queue, with one find and no other process.  Sets
#   STATE   where each template ID is, in template order, as STATE/NAME
#           without the lease and worker (they depend on the clock), and
#           how many other messages are in new/
#   NEWIDS  those other messages' IDs
#   NTMP    the number of files in tmp/
#   BROKEN  what is wrong: an entry that is not a regular file, an ID in
#           two state directories, a body that is not whole, a message
#           not put by the template or by put that is not in new/
look() {
	local dir type name st id norm got want nnew=0
	local -A where=() seen=()
	NTMP=0
	NEWIDS=()
	BROKEN=""
	while read -r dir type name; do
		st=${dir##*/}
		if [ "$st" = tmp ]; then
			NTMP=$((NTMP + 1))
			continue
		fi
		id=${name%%,*}
		if [ "$type" != f ]; then
			BROKEN+="$st/$name is not a regular file; "
			continue
		fi
		if [ -n "${seen[$id]:-}" ]; then
			BROKEN+="$id is in ${seen[$id]}/ and in $st/; "
		fi
		seen[$id]=$st
		want=${BODY[$id]:-hello}
		got=
		IFS= read -r -d '' got <"$dir/$name" || true
		if [ "$got" != "$want"$'\n' ]; then
			BROKEN+="$st/$name: body not whole (${#got} bytes); "
		fi
		norm=$name
		if [[ $norm =~ ^(.*),l=[0-9]+(,w=[^,]*)?$ ]]; then
			norm=${BASH_REMATCH[1]}
		fi
		if [ -n "${BODY[$id]:-}" ]; then
			where[$id]=$st/$norm
		elif [ "$st" = new ]; then
			nnew=$((nnew + 1))
			NEWIDS+=("$id")
		else
			BROKEN+="unknown message $st/$name; "
		fi
	done < <(find "$Q/tmp" "$Q/new" "$Q/cur" "$Q/done" "$Q/failed" \
		-mindepth 1 -maxdepth 1 -printf '%H %y %f\n')
	STATE=" "
	for id in "${ORDER[@]}"; do
		STATE+="${where[$id]:-gone} "
	done
	STATE+="+$nnew"
}

# Is the q under test a static executable (no dynamic loader)?
q_is_static() {
	! LC_ALL=C readelf -l "$(readlink -f "$(command -v q)")" 2>/dev/null |
		grep -q 'program interpreter'
}

# Lines "SYSCALL N TEXT", one for each call of a syscall of $TRACED that
# q's own code made while running "$@", where N counts every call of
# SYSCALL since exec, which is what when=N counts.  Calls on stdout and
# stderr are left out.  In a dynamic q, a call is q's own when a frame of a
# q command (cmd_*) is on its stack: that leaves out the dynamic loader,
# libc's start-up and a sanitizer runtime's set-up.  A static q has no
# loader and its libc start-up makes none of these calls (stacks cannot be
# unwound past a static libc's wrappers anyway): there every call counts.
own_positions() {
	local log="$BATS_TEST_TMPDIR/baseline.trace" static=0 k=-k
	if q_is_static; then
		static=1
		k=
	fi
	# shellcheck disable=SC2086
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq $k -o "$log" \
		-e trace="$TRACED" "$@" >"$BATS_TEST_TMPDIR/baseline.out" \
		2>"$BATS_TEST_TMPDIR/baseline.err" </dev/null || return 1
	awk -v frame=" > $(readlink -f "$(command -v q)")(cmd_" \
		-v static="$static" '
		function flush() {
			if (sc != "" && (own || static) && fd != "1" && fd != "2")
				print sc, calls[sc], text
			sc = ""
			own = 0
		}
		/^ > / {
			if (index($0, frame) == 1)
				own = 1
			next
		}
		{
			flush()
			text = $0
			sub(/^[0-9]+ +/, "", text)
			if (text !~ /^[a-z0-9_]+\(/)
				next	# a signal, an exit
			sc = text
			sub(/\(.*/, "", sc)
			calls[sc]++
			fd = text
			sub(/^[^(]*\(/, "", fd)
			sub(/[,)].*/, "", fd)
		}
		END { flush() }' "$log"
}

# Judge one injected run of command $1 (put, take, ack, sweep), with
# status, output and stderr as run left them; $2 is what was injected
# (an errno or KILL).  Prints one line per problem.
judge() {
	local kind=$1 what=$2
	look
	[ -z "$BROKEN" ] || echo "$BROKEN"
	case $status in
	0)
		[ "$STATE" = "$AFTER" ] ||
			echo "succeeded, but the queue is not as after a clean run: $STATE"
		;;
	74)
		[ -n "$stderr" ] && [ "${#stderr_lines[@]}" -eq 1 ] &&
			[[ $stderr == *"$Q"* ]] ||
			echo "74 without a one-line error naming the queue: '$stderr'"
		if [ "$kind" = sweep ]; then
			# sweep acts message by message: an error after the
			# move is fine if the move was reported
			[ "$STATE" = "$BEFORE" ] || { [ "$STATE" = "$AFTER" ] &&
				[[ $output == *"$ID_E"*"returned to new/"* ]]; } ||
				echo "74, but the queue changed: $STATE"
		else
			[ "$STATE" = "$BEFORE" ] ||
				echo "74, but the queue changed: $STATE"
			[ -z "$output" ] || echo "74, but printed '$output'"
		fi
		[ "$NTMP" -eq 0 ] || echo "74, but left a file in tmp/"
		;;
	137)
		[ "$what" = KILL ] || echo "killed by an injected $what"
		[ "$STATE" = "$BEFORE" ] || [ "$STATE" = "$AFTER" ] ||
			echo "killed, and the queue is half-way: $STATE"
		;;
	*)
		echo "exit status $status (stderr '$stderr')"
		;;
	esac
	# whatever was printed is true, killed or not
	case $kind in
	put)
		if [ -n "$output" ]; then
			[ "${#NEWIDS[@]}" -eq 1 ] && [ "${NEWIDS[0]}" = "$output" ] ||
				echo "printed ID '$output' is not whole in new/"
		elif [ "$status" -eq 0 ]; then
			echo "succeeded without printing an ID"
		fi
		# a writer killed before its rename leaves its file in tmp/
		[ "$NTMP" -le 1 ] || echo "$NTMP files in tmp/"
		;;
	take)
		if [ -n "$output" ]; then
			[ "$output" = "$ID_M1,a=1" ] && [[ $STATE == *" cur/$output "* ]] ||
				echo "printed token '$output' is not claimed in cur/"
		elif [ "$status" -eq 0 ]; then
			echo "succeeded without printing a token"
		fi
		;;
	ack)
		[ -z "$output" ] || echo "ack printed '$output'"
		;;
	sweep)
		if [[ $output == *"returned to new/"* ]]; then
			[[ $STATE == *" new/$ID_E,a=1 "* ]] ||
				echo "sweep said it returned E, but it is not in new/"
		fi
		;;
	esac
	if [ "$kind" != put ] && [ "$NTMP" -ne 0 ]; then
		echo "a file appeared in tmp/"
	fi
}

# After an injected run the same command again, without faults, does its
# work (ack: unless the first run had acked already, which it then says
# with 66, changing nothing).  Uses STATE from judge.  Prints one line per
# problem.
second_run() {
	local kind=$1 before=$STATE
	shift
	run --separate-stderr "$@" </dev/null
	look
	[ -z "$BROKEN" ] || echo "after the second run: $BROKEN"
	case $kind in
	put)
		[ "$status" -eq 0 ] && [[ " ${NEWIDS[*]} " == *" $output "* ]] ||
			echo "second put: $status '$output' '$stderr'"
		;;
	take)
		[ "$status" -eq 0 ] && [[ $output == *,a=1 ]] &&
			[[ $STATE == *" cur/$output "* ]] ||
			echo "second take: $status '$output' '$stderr'"
		;;
	ack)
		if [[ $before == *" cur/$TOKEN_C "* ]]; then
			[ "$status" -eq 0 ] && [[ $STATE == *" done/$TOKEN_C "* ]] ||
				echo "second ack: $status '$stderr'"
		else
			[ "$status" -eq 66 ] && [ "$STATE" = "$before" ] ||
				echo "second ack of an acked message: $status '$stderr'"
		fi
		;;
	sweep)
		[ "$status" -eq 0 ] && [[ $STATE == *" new/$ID_E,a=1 "* ]] ||
			echo "second sweep: $status '$output' '$stderr'"
		;;
	esac
}

# The loop: $1 is the kind of command, the rest the command.  Each own
# call of a clean run is failed with each errno (EIO alone for close and
# getdents64), and killed once.  $MUST lists the syscalls the loop must
# have reached.
fault_loop() {
	local kind=$1 pos sc n text e inj problems runs=0 start
	local -a positions bad=() covered=()
	shift
	start=$SECONDS
	reset_queue
	look
	BEFORE=$STATE
	[ -z "$BROKEN" ]
	mapfile -t positions < <(own_positions "$@")
	look
	AFTER=$STATE
	echo "clean run: $(<"$BATS_TEST_TMPDIR/baseline.out")"
	[ "$AFTER" != "$BEFORE" ]
	[ -z "$BROKEN" ]
	[ "${#positions[@]}" -gt 0 ]
	for pos in "${positions[@]}"; do
		read -r sc n text <<<"$pos"
		covered+=("$sc")
		for e in EIO ENOSPC EDQUOT KILL; do
			case $sc:$e in
			close:ENOSPC | close:EDQUOT | getdents64:ENOSPC | getdents64:EDQUOT)
				continue ;;
			esac
			if [ "$e" = KILL ]; then
				inj="$sc:signal=KILL:when=$n"
			else
				inj="$sc:error=$e:when=$n"
			fi
			reset_queue
			run --separate-stderr env ASAN_OPTIONS=detect_leaks=0 \
				strace -f -qq -o /dev/null -e inject="$inj" "$@" </dev/null
			problems=$(judge "$kind" "$e"; second_run "$kind" "$@")
			runs=$((runs + 1))
			if [ -n "$problems" ]; then
				bad+=("$inj [$text]: $problems")
			fi
		done
	done
	echo "$runs runs at ${#positions[@]} positions in $((SECONDS - start)) s"
	printf '%s\n' "${bad[@]}"
	for sc in $MUST; do
		if [[ " ${covered[*]} " != *" $sc "* ]]; then
			echo "the loop never reached $sc"
			return 1
		fi
	done
	[ "${#bad[@]}" -eq 0 ]
}

@test "fault loop: put fails or dies at each of its own calls, never half-done" {
	require_strace_k
	make_template
	MUST="openat write fdatasync close renameat2 fsync" \
		fault_loop put q put -m hello "$Q"
}

@test "fault loop: take fails or dies at each of its own calls, never half-done" {
	require_strace_k
	make_template
	MUST="openat getdents64 renameat2" fault_loop take q take "$Q"
}

@test "fault loop: ack fails or dies at each of its own calls, never half-done" {
	require_strace_k
	make_template
	MUST="openat getdents64 renameat2" fault_loop ack q ack "$Q" "$TOKEN_C"
}

@test "fault loop: sweep of an expired claim fails or dies at each of its own calls" {
	require_strace_k
	make_template
	wait_expired
	MUST="openat getdents64 renameat2" fault_loop sweep q sweep "$Q"
}

# ---------------------------------------------------------------------------
# A really full ext4: a rename that needs a new directory block.

# Make an image of size $1 with the mkfs command "${@:3}" and mount it on $2.
mount_image() {
	local size=$1 mnt=$2 img
	shift 2
	img="$BATS_TEST_TMPDIR/$(basename "$mnt").img"
	truncate -s "$size" "$img"
	"$@" "$img" >/dev/null 2>&1 || skip "cannot make a file system: $*"
	mkdir -p "$mnt"
	mount -o loop "$img" "$mnt" 2>/dev/null || skip "cannot mount a loop image"
	MOUNTED+=("$mnt")
}

# Fill directory $1 with links to $2 under the shortest names q skips
# (".N"), until the file system refuses: then no name of any length can be
# added to it without a new block, and there is none.
fill_dir() {
	local dir=$1 file=$2 k=0
	while ln "$file" "$dir/.$k" 2>/dev/null; do
		k=$((k + 1))
		[ "$k" -lt 10000 ] || return 1
	done
	# nothing with a longer name fits either
	! ln "$file" "$dir/.probe-$k-with-a-long-name-like-a-message" 2>/dev/null
}

@test "full ext4: a claim, an ack and a sweep whose rename needs a new directory block get 74 and change nothing" {
	local mnt="$BATS_TEST_TMPDIR/full" qp tc te t1 id_c id_e id_n before k lease
	require_root
	command -v mkfs.ext4 >/dev/null || skip "needs mkfs.ext4"
	# no reserved blocks, and linear directories: a name that does not
	# fit in any block of a full directory means a new block is needed
	mount_image 16M "$mnt" mkfs.ext4 -q -F -N 2048 -b 1024 -m 0 -O ^dir_index
	qp="$mnt/q"

	id_c=$(q put -m claimed "$qp")
	tc=$(q take "$qp")
	[ "$tc" = "$id_c,a=1" ]
	id_e=$(q put -m expiring "$qp")
	te=$(q take -l 1 "$qp")
	[ "$te" = "$id_e,a=1" ]
	id_n=$(q put -m ready "$qp")
	echo "x" >"$mnt/linked"

	# the data blocks: all of them
	dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null || true
	sync -f "$mnt"
	dd if=/dev/zero of="$mnt/filler2" bs=1k 2>/dev/null || true
	sync -f "$mnt"
	# and the directory blocks of the states a message would enter
	fill_dir "$qp/cur" "$mnt/linked"
	fill_dir "$qp/done" "$mnt/linked"
	fill_dir "$qp/new" "$mnt/linked"
	# wait for E's lease to pass
	lease=$(find "$qp/cur" -name "$te,l=*" -printf '%f')
	lease=${lease##*,l=}
	for ((k = 0; k < 50; k++)); do
		[ "$(date +%s)" -gt "$lease" ] && break
		sleep 0.1
	done
	[ "$(date +%s)" -gt "$lease" ]

	before=$(snapshot_path "$qp")

	# the claim: new/ -> cur/, and cur/ cannot grow
	run --separate-stderr q take "$qp"
	echo "take: $status '$output' '$stderr'"
	[ "$status" -eq 74 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"No space left on device"* ]]
	[ "$(snapshot_path "$qp")" = "$before" ]

	# the ack: cur/ -> done/
	run --separate-stderr q ack "$qp" "$tc"
	echo "ack: $status '$output' '$stderr'"
	[ "$status" -eq 74 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"$tc"* && $stderr == *"No space left on device"* ]]
	[ "$(snapshot_path "$qp")" = "$before" ]

	# the sweep of the expired claim: cur/ -> new/
	run --separate-stderr q sweep "$qp"
	echo "sweep: $status '$output' '$stderr'"
	[ "$status" -eq 74 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"$id_e"* && $stderr == *"No space left on device"* ]]
	[[ $output != *"returned"* ]]
	[ "$(snapshot_path "$qp")" = "$before" ]

	# show that it was the rename itself that failed
	if command -v strace >/dev/null; then
		run env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=renameat2 \
			-o "$BATS_TEST_TMPDIR/rename.trace" q take "$qp"
		[ "$status" -eq 74 ]
		run cat "$BATS_TEST_TMPDIR/rename.trace"
		assert_output --regexp "renameat2\(.*\"$id_n\".*RENAME_NOREPLACE\) = -1 ENOSPC"
	fi

	# free the space: every command works, and each message is in one place
	rm -f -- "$mnt/filler" "$mnt/filler2" "$qp"/new/.[0-9]* \
		"$qp"/cur/.[0-9]* "$qp"/done/.[0-9]*
	run -0 q ack "$qp" "$tc"
	run -0 --separate-stderr q sweep "$qp"
	assert_output --partial "$id_e"
	# the two ready messages: E back from its expired claim, and N
	run -0 q take "$qp"
	t1=$output
	run -0 q take "$qp"
	run sort <<<"$(printf '%s\n' "$t1" "$output")"
	assert_output "$(printf '%s\n' "$id_e,a=2" "$id_n,a=1" | sort)"
	run -0 q cat "$qp" "$id_c" "$id_e" "$id_n"
	assert_output "$(printf 'claimed\nexpiring\nready')"
	run find "$qp/new" "$qp/cur" "$qp/done" "$qp/failed" -mindepth 1 -printf '%f\n'
	[ "${#lines[@]}" -eq 3 ]
	run bash -c "printf '%s\n' \"\$@\" | sed 's/,.*//' | sort | uniq -d" _ "${lines[@]}"
	assert_output ""
	[ -f "$qp/done/$id_c,a=1" ]
	[ "$(find "$qp/tmp" -mindepth 1 | wc -l)" -eq 0 ]
}

# Like snapshot, for a queue given by path: every entry with its type and
# size, dot files (the fillers) left out.
snapshot_path() {
	(cd "$1" && find . -mindepth 1 -name '.*' -prune -o \
		-printf '%p %y %s\n' | LC_ALL=C sort)
}

# ---------------------------------------------------------------------------
# Power cuts: the image is copied while the kernel still holds what was not
# synced, and the copy is what a machine would find after losing power.

# Put 50 messages, each by its own q put (with the extra options in
# $PUTOPTS), into a new queue on the file system mounted at $1; record
# "ID BODY" for every ID printed in $2.
put50() {
	local mnt=$1 list=$2 k id
	: >"$list"
	for ((k = 1; k <= 50; k++)); do
		# shellcheck disable=SC2086
		id=$(q put $PUTOPTS -m "power $k" "$mnt/q") || return 1
		printf '%s power %s\n' "$id" "$k" >>"$list"
	done
}

# Copy image $1 to $2 as it is on the "disk" now: no sync first.
cut_power() {
	cp --sparse=always -- "$1" "$2"
}

# Messages of list $1 that are not whole in queue $2: one line each.
lost_messages() {
	local list=$1 qp=$2 id word k f
	while read -r id word k; do
		f="$qp/new/$id"
		if [ ! -f "$f" ]; then
			echo "$id missing"
		elif [ ! -s "$f" ]; then
			echo "$id empty"
		elif [ "$(<"$f")" != "$word $k" ]; then
			echo "$id damaged"
		fi
	done <"$list"
}

# One power cut on a $1 file system (ext4, xfs, btrfs): put 50 messages,
# copy the image at once, mount the copy at $BATS_TEST_TMPDIR/$1-copy.
# Prints what was lost.
power_cut() {
	local fs=$1 size img mnt copy list
	mnt="$BATS_TEST_TMPDIR/$fs-$RANDOM"
	img="$mnt.img"
	copy="$mnt-copy"
	list="$mnt.list"
	case $fs in
	ext4) size=64M ;;
	xfs) size=320M ;;
	btrfs) size=256M ;;
	esac
	truncate -s "$size" "$img"
	case $fs in
	ext4) mkfs.ext4 -q -F "$img" ;;
	xfs) mkfs.xfs -q -f "$img" ;;
	btrfs) mkfs.btrfs -q -f "$img" ;;
	esac >/dev/null 2>&1 || return 2
	mkdir "$mnt" "$copy"
	mount -o loop "$img" "$mnt" || return 2
	MOUNTED+=("$mnt")
	put50 "$mnt" "$list" || return 3
	cut_power "$img" "$copy.img"
	umount "$mnt"
	case $fs in
	btrfs) btrfs device scan --forget >/dev/null 2>&1 ;;
	esac
	case $fs in
	xfs) mount -o loop,nouuid "$copy.img" "$copy" ;;
	*) mount -o loop "$copy.img" "$copy" ;;
	esac || return 4
	MOUNTED+=("$copy")
	[ "$(wc -l <"$list")" -eq 50 ] || return 3
	lost_messages "$list" "$copy/q"
	umount "$copy"
	rm -f -- "$img" "$copy.img"
}

require_fs() {
	require_root
	case $1 in
	ext4) command -v mkfs.ext4 >/dev/null || skip "needs mkfs.ext4 (e2fsprogs)" ;;
	xfs) command -v mkfs.xfs >/dev/null || skip "needs mkfs.xfs (xfsprogs)" ;;
	btrfs)
		command -v mkfs.btrfs >/dev/null && command -v btrfs >/dev/null ||
			skip "needs btrfs-progs"
		;;
	esac
	grep -qw "$1" /proc/filesystems || modprobe "$1" 2>/dev/null ||
		skip "the kernel has no $1"
}

# The guarantee on file system $1: every printed ID survives the cut.
survives_power_cut() {
	local rc=0 out="$BATS_TEST_TMPDIR/lost"
	require_fs "$1"
	PUTOPTS=""
	power_cut "$1" >"$out" || rc=$?
	cat "$out"
	[ "$rc" -ne 2 ] || skip "cannot make or mount a $1 image here"
	[ "$rc" -eq 0 ]
	[ ! -s "$out" ]
}

@test "power cut on ext4 right after 50 puts: every printed ID is whole in new/" {
	survives_power_cut ext4
}

@test "power cut on xfs right after 50 puts: every printed ID is whole in new/" {
	survives_power_cut xfs
}

@test "power cut on btrfs right after 50 puts: every printed ID is whole in new/" {
	survives_power_cut btrfs
}

@test "negative control: with --no-sync a power cut on ext4 does lose messages" {
	local try rc out="$BATS_TEST_TMPDIR/lost"
	require_fs ext4
	PUTOPTS=--no-sync
	# the journal commits every few seconds on its own: a copy taken in
	# between may be lucky, so try a few times
	for try in 1 2 3; do
		rc=0
		power_cut ext4 >"$out" || rc=$?
		[ "$rc" -ne 2 ] || skip "cannot make or mount an ext4 image here"
		[ "$rc" -eq 0 ]
		echo "try $try: $(grep -c . "$out") of 50 lost"
		[ -s "$out" ] && break
	done
	# the control shows the loss that the durable put prevents
	[ -s "$out" ]
	echo "# without fsync: $(awk '{ n[$2]++ } END { for (k in n) printf "%d %s ", n[k], k }' "$out")of 50" >&3
}
