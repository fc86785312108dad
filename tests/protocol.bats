#!/usr/bin/env bats
# The claim protocol of q: one winner per message under concurrency, leases
# and sweep, fencing by claim token, touch, FIFO order with priorities and
# delays, foreign files in new/, and delayed release.

load helper

# Lease expiry (the l= value) of the claim in cur/ of queue $1 whose name
# starts with $2 (default: the only claim there).
lease_of() {
	local f
	f=$(names "$1" cur | grep -F -- "${2:-}")
	[ "$(printf '%s\n' "$f" | wc -l)" -eq 1 ] || return 1
	[[ $f =~ ,l=([0-9]+) ]] || return 1
	printf '%s\n' "${BASH_REMATCH[1]}"
}

# Wait until the clock is past Unix time $1.  Bounded: gives up (fails)
# after about 15 seconds, which a lease of a second or two never needs.
wait_past() {
	local k
	for ((k = 0; k < 150; k++)); do
		[ "$(date +%s)" -gt "$1" ] && return 0
		sleep 0.1
	done
	echo "clock never passed $1" >&2
	return 1
}

# Everything under queue $1 with its type, size and symlink target:
# a snapshot that also sees FIFOs, directories and symlinks.
tree_of() {
	(cd "$QDIR/$1" && find . -mindepth 1 -printf '%p %y %s %l\n' |
		LC_ALL=C sort)
}

# The ID of a claim token or message name.
id_of() {
	printf '%s\n' "${1%%,*}"
}

@test "8 concurrent takers claim each of 40 messages exactly once" {
	local w k rc t pids=()
	local dir="$BATS_TEST_TMPDIR/takers"

	mkdir "$dir"
	for ((k = 1; k <= 40; k++)); do
		q put -m "msg $k" jobs >>"$dir/put-ids"
	done
	[ "$(wc -l <"$dir/put-ids")" -eq 40 ]
	[ "$(count jobs new)" -eq 40 ]

	for ((w = 1; w <= 8; w++)); do
		(
			# start together, to make the takers contend
			for ((k = 0; k < 100; k++)); do
				[ -e "$dir/go" ] && break
				sleep 0.05
			done
			: >"$dir/tok.$w"
			while :; do
				if t=$(timeout 10 q take jobs); then
					printf '%s\n' "$t" >>"$dir/tok.$w"
				else
					rc=$?
					break
				fi
			done
			echo "$rc" >"$dir/rc.$w"
		) 3>&- &
		pids+=($!)
	done
	touch "$dir/go"
	for w in "${pids[@]}"; do
		wait "$w"
	done

	# every taker stopped because nothing was left (75), not on an error
	for ((w = 1; w <= 8; w++)); do
		run cat "$dir/rc.$w"
		assert_output 75
	done

	cat "$dir"/tok.* >"$dir/all"
	[ "$(wc -l <"$dir/all")" -eq 40 ]
	# every token is a first claim
	run grep -vc ',a=1$' "$dir/all"
	assert_output 0
	# no ID was handed out twice, and the IDs are exactly those put
	cut -d, -f1 "$dir/all" | LC_ALL=C sort >"$dir/taken-ids"
	[ "$(LC_ALL=C sort -u "$dir/taken-ids" | wc -l)" -eq 40 ]
	LC_ALL=C sort "$dir/put-ids" >"$dir/put-sorted"
	run diff "$dir/put-sorted" "$dir/taken-ids"
	assert_success

	# on disk: all 40 in cur/, none left in new/, each under its token
	[ "$(count jobs cur)" -eq 40 ]
	[ "$(count jobs new)" -eq 0 ]
	[ "$(count jobs tmp)" -eq 0 ]
	while read -r t; do
		run compgen -G "$QDIR/jobs/cur/$t,l=*"
		assert_success
		[ "${#lines[@]}" -eq 1 ]
	done <"$dir/all"
}

@test "sweep returns an expired lease to new/ keeping a=, and fails one out of attempts" {
	local id t lease

	id=$(q put -m hello jobs)
	run --separate-stderr q take -l 1 jobs
	[ "$status" -eq 0 ]
	t=$output
	[ "$t" = "$id,a=1" ]
	lease=$(lease_of jobs)
	assert_file_exists "$QDIR/jobs/cur/$id,a=1,l=$lease"

	wait_past "$lease"
	run --separate-stderr q sweep jobs
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	assert_output --partial "$id"
	assert_output --partial "expired"
	[ "$(count jobs cur)" -eq 0 ]
	run names jobs new
	assert_output "$id,a=1"
	run q cat jobs "$id"
	assert_output hello

	# the next claim is attempt 2
	run --separate-stderr q take jobs
	[ "$status" -eq 0 ]
	[ "$output" = "$id,a=2" ]

	# out of attempts: failed/, not new/
	run q config jobs attempts 1
	assert_success
	id=$(q put -m doomed jobs)
	run --separate-stderr q take -l 1 jobs
	[ "$status" -eq 0 ]
	[ "$output" = "$id,a=1" ]
	lease=$(lease_of jobs "$id")
	wait_past "$lease"
	run --separate-stderr q sweep jobs
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	assert_output --partial "$id"
	assert_output --partial "failed/"
	run names jobs failed
	assert_output "$id,a=1"
	run names jobs new
	assert_output ""
	run q cat jobs "$id"
	assert_output doomed
}

@test "fencing: a token whose claim was lost gets 66 and changes nothing" {
	local id t1 t2 lease before after

	id=$(q put -m fenced jobs)
	t1=$(q take -l 1 jobs)
	[ "$t1" = "$id,a=1" ]
	lease=$(lease_of jobs)
	wait_past "$lease"
	run q sweep jobs
	assert_success
	t2=$(q take jobs)
	[ "$t2" = "$id,a=2" ]

	before=$(snapshot jobs)
	run -66 --separate-stderr q ack jobs "$t1"
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *jobs* ]]
	[[ $stderr == *"$t1"* ]]
	after=$(snapshot jobs)
	[ "$before" = "$after" ]

	# the same holds for fail, release and touch with the stale token
	for cmd in fail release touch; do
		run -66 --separate-stderr q "$cmd" jobs "$t1"
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ $stderr == *jobs* && $stderr == *"$t1"* ]]
		[ "$(snapshot jobs)" = "$before" ]
	done

	# the current claim's token works
	run --separate-stderr q ack jobs "$t2"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	run names jobs done
	assert_output "$id,a=2"
	[ "$(count jobs cur)" -eq 0 ]
	[ "$(count jobs new)" -eq 0 ]
}

@test "touch keeps a lease alive past its first expiry; touching a lost claim is 66" {
	local id t lease before

	id=$(q put -m long jobs)
	t=$(q take -l 2 jobs)
	[ "$t" = "$id,a=1" ]
	lease=$(lease_of jobs)
	run --separate-stderr q touch -l 60 jobs "$t"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(lease_of jobs)" -gt "$lease" ]

	wait_past "$lease"
	run q sweep jobs
	assert_success
	refute_output --partial "$id"
	[ "$(count jobs cur)" -eq 1 ]
	[ "$(count jobs new)" -eq 0 ]
	run names jobs cur
	assert_output --regexp "^$id,a=1,l=[0-9]+$"
	run q ack jobs "$t"
	assert_success

	# a claim that expired and was swept back cannot be touched
	id=$(q put -m short jobs)
	t=$(q take -l 1 jobs)
	[ "$t" = "$id,a=1" ]
	lease=$(lease_of jobs)
	wait_past "$lease"
	run q sweep jobs
	assert_success
	before=$(snapshot jobs)
	run -66 --separate-stderr q touch -l 60 jobs "$t"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *jobs* && $stderr == *"$t"* ]]
	[ "$(snapshot jobs)" = "$before" ]

	# nor once somebody else holds it
	run q take jobs
	assert_success
	assert_output "$id,a=2"
	before=$(snapshot jobs)
	run -66 --separate-stderr q touch jobs "$t"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *jobs* && $stderr == *"$t"* ]]
	[ "$(snapshot jobs)" = "$before" ]
}

@test "FIFO: new/ lists and take claims in put order; priority first; delayed never" {
	local k id
	local ids=() taken=()

	for ((k = 1; k <= 20; k++)); do
		ids+=("$(q put -m "msg $k" jobs)")
	done
	run bash -c "LC_ALL=C ls '$QDIR/jobs/new'"
	assert_success
	[ "${#lines[@]}" -eq 20 ]
	for ((k = 0; k < 20; k++)); do
		[ "${lines[k]}" = "${ids[k]}" ]
	done
	for ((k = 0; k < 20; k++)); do
		run --separate-stderr q take jobs
		[ "$status" -eq 0 ]
		taken+=("$(id_of "$output")")
	done
	[ "${taken[*]}" = "${ids[*]}" ]
	run -75 q take jobs

	# -p 1 overtakes older default-priority messages; -p 9 comes last
	local low old1 old2 urgent
	low=$(q put -p 9 -m low prio)
	old1=$(q put -m old1 prio)
	old2=$(q put -m old2 prio)
	urgent=$(q put -p 1 -m urgent prio)
	run names prio new
	assert_line "$urgent,p=1"
	assert_line "$low,p=9"
	run q take prio
	assert_output "$urgent,a=1"
	run q take prio
	assert_output "$old1,a=1"
	run q take prio
	assert_output "$old2,a=1"
	run q take prio
	assert_output "$low,a=1"
	run -75 q take prio

	# a delayed message is never taken before its time
	local later now
	later=$(q put -d 1h -m later delay)
	run names delay new
	assert_output --regexp "^$later,d=[0-9]+$"
	run -75 --separate-stderr q take delay
	[ -z "$output" ]
	[ "$(count delay new)" -eq 1 ]
	[ "$(count delay cur)" -eq 0 ]
	# a ready message put after it is taken, the delayed one stays
	now=$(q put -m now delay)
	run q take delay
	assert_output "$now,a=1"
	run -75 q take delay
	run names delay new
	assert_output --regexp "^$later,d=[0-9]+$"
}

@test "foreign files in new/ are never claimed, moved or deleted; sweep reports them" {
	local new="$QDIR/jobs/new" secret="$BATS_TEST_TMPDIR/secret"
	local f before id

	q put -m seed jobs >/dev/null
	rm "$new"/*		# an empty, existing queue
	printf 'top secret\n' >"$secret"
	# names that sort before any real message, so a claim would see them first
	local junk="not-a-message"
	local link="1700000000.000000.1_0.evil"
	local fifo="1700000001.000000.1_0.evil"
	local dir="1700000002.000000.1_0.evil"
	printf 'junk\n' >"$new/$junk"
	ln -s "$secret" "$new/$link"
	mkfifo "$new/$fifo"
	mkdir "$new/$dir"
	before=$(tree_of jobs)

	run -75 --separate-stderr timeout 10 q take jobs
	[ -z "$output" ]
	[ "$(tree_of jobs)" = "$before" ]

	# with a real message present, the real one is claimed, nothing else
	id=$(q put -m real jobs)
	run --separate-stderr timeout 10 q take jobs
	[ "$status" -eq 0 ]
	[ "$output" = "$id,a=1" ]
	run -75 timeout 10 q take jobs
	run names jobs cur
	assert_output --regexp "^$id,a=1,l=[0-9]+$"
	run q ack jobs "$id,a=1"
	assert_success
	before=$(tree_of jobs)

	run --separate-stderr timeout 10 q sweep -v jobs
	[ "$status" -eq 0 ]
	for f in "$junk" "$link" "$fifo" "$dir"; do
		assert_line --partial "new/$f"
	done
	[ "${#lines[@]}" -eq 4 ]
	[ "$(tree_of jobs)" = "$before" ]

	# the symlink was not followed and its target is untouched
	[ -L "$new/$link" ]
	[ "$(readlink "$new/$link")" = "$secret" ]
	run cat "$secret"
	assert_output "top secret"
	[ -p "$new/$fifo" ]
	[ -d "$new/$dir" ]
	[ -f "$new/$junk" ]
	[ "$(count jobs cur)" -eq 0 ]
	[ "$(count jobs failed)" -eq 0 ]
}

@test "a released message with -d 1h gets d= and is not taken" {
	local id t before_release

	id=$(q put -m again jobs)
	t=$(q take jobs)
	[ "$t" = "$id,a=1" ]
	before_release=$(date +%s)
	run --separate-stderr q release -d 1h jobs "$t"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(count jobs cur)" -eq 0 ]
	run names jobs new
	assert_output --regexp "^$id,a=1,d=[0-9]+$"
	local due=${output##*,d=}
	[ "$due" -ge $((before_release + 3600)) ]
	[ "$due" -le $(($(date +%s) + 3600)) ]

	run -75 --separate-stderr q take jobs
	[ -z "$output" ]
	run names jobs new
	assert_output "$id,a=1,d=$due"
	[ "$(count jobs cur)" -eq 0 ]

	# released without delay: ready at once, next claim is attempt 2
	id=$(q put -m plain other)
	t=$(q take other)
	run q release other "$t"
	assert_success
	run names other new
	assert_output "$id,a=1"
	run q take other
	assert_output "$id,a=2"
}
