#!/usr/bin/env bats
# q touch: lease extension.

load helper

@test "touch sets a new lease in the name and keeps the claim" {
	id=$(q put -m x jobs)
	t=$(q take -l 30 jobs)
	now=$(date +%s)
	run --separate-stderr -0 q touch -l 2h jobs "$t"
	f=$(names jobs cur)
	[[ $f == "$id,a=1,l="* ]]
	l=${f##*,l=}
	((l >= now + 7200 && l <= now + 7205))
	run -0 q ack jobs "$t"
}

@test "touch without -l uses the queue's lease" {
	q put -m x jobs >/dev/null
	q config jobs lease 1h
	t=$(q take -l 5 jobs)
	now=$(date +%s)
	q touch jobs "$t"
	l=$(names jobs cur | sed 's/.*,l=//')
	((l >= now + 3600 && l <= now + 3605))
}

@test "touch of a lost claim is 66 and changes nothing" {
	q put -m x jobs >/dev/null
	t1=$(q take jobs)
	q release jobs "$t1"
	q take jobs >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -66 q touch jobs "$t1"
	assert_equal "$stderr" "q touch: jobs: $t1: no longer claimed"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "touch of a message never claimed says so: 66, nothing changed" {
	id=$(q put -m x jobs)
	before=$(snapshot jobs)
	run --separate-stderr -66 q touch jobs "$id"
	assert_equal "$stderr" "q touch: jobs: $id: not claimed"
	# a claim given back is no longer claimed, not "not claimed"
	t=$(q take jobs)
	q release jobs "$t"
	run --separate-stderr -66 q touch jobs "$t"
	assert_equal "$stderr" "q touch: jobs: $t: no longer claimed"
	assert_equal "$(names jobs new)" "$id,a=1"
}

@test "a lease above 12h or of 0 is 65" {
	q put -m x jobs >/dev/null
	t=$(q take jobs)
	run --separate-stderr -65 q touch -l 13h jobs "$t"
	assert_equal "$stderr" "q touch: invalid lease: 13h (1s to 12h)"
	run -65 q touch -l 0 jobs "$t"
}
