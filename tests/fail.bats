#!/usr/bin/env bats
# q fail: cur -> failed.

load helper

@test "fail moves the claim to failed/" {
	id=$(q put -m x jobs)
	t=$(q take jobs)
	run --separate-stderr -0 q fail jobs "$t"
	assert_output ""
	assert_equal "$(names jobs failed)" "$id,a=1"
	assert_equal "$(count jobs cur)" 0
}

@test "fail of a message not claimed is 66 and changes nothing" {
	id=$(q put -m x jobs)
	before=$(snapshot jobs)
	run --separate-stderr -66 q fail jobs "$id"
	assert_equal "$stderr" "q fail: jobs: $id: not claimed"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "fail with a stale token is fenced" {
	q put -m x jobs >/dev/null
	t1=$(q take jobs)
	q release jobs "$t1"
	t2=$(q take jobs)
	run -66 q fail jobs "$t1"
	assert_equal "$(count jobs cur)" 1
	run -0 q fail jobs "$t2"
	assert_equal "$(count jobs failed)" 1
}

@test "fail usage" {
	run --separate-stderr -64 q fail
	assert_equal "$stderr" "q fail: missing queue
usage: q fail queue id ..."
	run --separate-stderr -65 q fail jobs /etc/passwd
}
