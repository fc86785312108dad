#!/usr/bin/env bats
# q release: cur -> new.

load helper

@test "release returns the claim to new/, keeping a=, and it can be taken again" {
	id=$(q put -m x jobs)
	t=$(q take jobs)
	run --separate-stderr -0 q release jobs "$t"
	assert_equal "$(names jobs new)" "$id,a=1"
	run -0 q take jobs
	assert_output "$id,a=2"
}

@test "release -d delays the next claim" {
	id=$(q put -m x jobs)
	t=$(q take jobs)
	now=$(date +%s)
	run -0 q release -d 10m jobs "$t"
	f=$(names jobs new)
	[[ $f == "$id,a=1,d="* ]]
	d=${f##*,d=}
	((d >= now + 600 && d <= now + 605))
	run -75 q take jobs
}

@test "release of a message not claimed is 66; bad delay is 65" {
	id=$(q put -m x jobs)
	run --separate-stderr -66 q release jobs "$id"
	assert_equal "$stderr" "q release: jobs: $id: not claimed"
	t=$(q take jobs)
	before=$(snapshot jobs)
	run --separate-stderr -65 q release -d -5 jobs "$t"
	assert_equal "$stderr" "q release: invalid delay: -5"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "release usage" {
	run --separate-stderr -0 q release -h
	assert_output "usage: q release [-d delay] queue id ..."
	run --separate-stderr -64 q release jobs
}
