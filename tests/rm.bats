#!/usr/bin/env bats
# q rm: delete messages in new/, done/ or failed/; never a claimed one.

load helper

# One message in each state.  Sets d f c n.
filled() {
	d=$(q put -m done jobs)
	q ack jobs "$(q take jobs)"
	f=$(q put -m failed jobs)
	q fail jobs "$(q take jobs)"
	c=$(q put -p 1 -m claimed jobs)
	t=$(q take jobs)
	n=$(q put -m ready jobs)
}

@test "rm deletes a message from new/, done/ and failed/" {
	filled
	run --separate-stderr -0 q rm jobs "$n"
	assert_output ""
	assert_equal "$stderr" ""
	assert_equal "$(count jobs new)" 0
	run --separate-stderr -0 q rm jobs "$d" "$f"
	assert_output ""
	assert_equal "$(count jobs done)" 0
	assert_equal "$(count jobs failed)" 0
	assert_equal "$(count jobs cur)" 1
}

@test "rm deletes only the message named" {
	putn jobs 3
	mapfile -t ids < <(names jobs new)
	q rm jobs "${ids[1]}"
	assert_equal "$(names jobs new)" "${ids[0]}
${ids[2]}"
}

@test "rm by token, by name and by path" {
	filled
	q rm jobs "$d,a=1"
	q rm jobs "$f,a=1"
	q rm jobs "$(qpath jobs)/new/$n"
	assert_equal "$(count jobs done)" 0
	assert_equal "$(count jobs failed)" 0
	assert_equal "$(count jobs new)" 0
}

@test "rm deletes delayed and released messages in new/" {
	l=$(q put -d 1h -m later jobs)
	r=$(q put -m again jobs)
	q release -d 1h jobs "$(q take jobs)"
	assert_equal "$(count jobs new)" 2
	run --separate-stderr -0 q rm jobs "$l" "$r"
	assert_equal "$(count jobs new)" 0
}

@test "rm of a claimed message is 66 and leaves it" {
	filled
	before=$(snapshot jobs)
	run --separate-stderr -66 q rm jobs "$c"
	assert_output ""
	assert_equal "$stderr" "q rm: jobs: $c: claimed; ack, release or fail it first"
	run --separate-stderr -66 q rm jobs "$t"
	assert_equal "$stderr" "q rm: jobs: $t: claimed; ack, release or fail it first"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "rm of a claimed message whose lease expired still leaves it" {
	q put -m x jobs >/dev/null
	t=$(q take jobs)
	cur=$(qpath jobs)/cur
	name=$(ls "$cur")
	mv "$cur/$name" "$cur/${name%,l=*},l=1000000000"
	before=$(snapshot jobs)
	run --separate-stderr -66 q rm jobs "${t%,a=*}"
	assert_equal "$stderr" "q rm: jobs: ${t%,a=*}: claimed; ack, release or fail it first"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "rm of several IDs deletes each it may; the first failure decides" {
	filled
	run --separate-stderr -66 q rm jobs "$n" "$c" "$d"
	assert_equal "$stderr" "q rm: jobs: $c: claimed; ack, release or fail it first"
	assert_equal "$(count jobs new)" 0
	assert_equal "$(count jobs done)" 0
	assert_equal "$(count jobs cur)" 1
	assert_equal "$(count jobs failed)" 1
}

@test "rm of an unknown ID is 66 and changes nothing" {
	filled
	before=$(snapshot jobs)
	run --separate-stderr -66 q rm jobs 1764491333.123456.1_1.elsewhere
	assert_output ""
	assert_equal "$stderr" "q rm: jobs: 1764491333.123456.1_1.elsewhere: no such message"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "rm of an ID already removed is 66" {
	id=$(q put -m x jobs)
	q rm jobs "$id"
	run --separate-stderr -66 q rm jobs "$id"
	assert_equal "$stderr" "q rm: jobs: $id: no such message"
}

@test "rm of a malformed ID is 65 and deletes nothing" {
	filled
	touch "$(qpath jobs)/x"
	before=$(snapshot jobs)
	run --separate-stderr -65 q rm jobs ../x
	assert_output ""
	assert_equal "$stderr" "q rm: jobs: ../x: malformed ID"
	run --separate-stderr -65 q rm jobs "$n" ../x "$d"
	assert_equal "$stderr" "q rm: jobs: ../x: malformed ID"
	run --separate-stderr -65 q rm jobs "$n,z=1"
	assert_equal "$stderr" "q rm: jobs: $n,z=1: malformed ID"
	assert_equal "$(snapshot jobs)" "$before"
	assert_file_exists "$(qpath jobs)/x"
}

@test "rm of a path outside the queue is 65 and deletes nothing" {
	filled
	mkdir "$BATS_TEST_TMPDIR/elsewhere"
	cp "$(qpath jobs)/new/$n" "$BATS_TEST_TMPDIR/elsewhere/"
	before=$(snapshot jobs)
	run --separate-stderr -65 q rm jobs "$BATS_TEST_TMPDIR/elsewhere/$n"
	assert_equal "$stderr" "q rm: jobs: $BATS_TEST_TMPDIR/elsewhere/$n: not a message of this queue"
	assert_equal "$(snapshot jobs)" "$before"
	assert_file_exists "$BATS_TEST_TMPDIR/elsewhere/$n"
}

@test "rm never deletes a foreign file with a message name" {
	q put -m x jobs >/dev/null
	dir=$(qpath jobs)
	mkfifo "$dir/new/1764491333.123456.1_1.h"
	ln -s /etc/passwd "$dir/done/1764491333.123456.1_2.h,a=1"
	before=$(snapshot jobs)
	run --separate-stderr -66 timeout 10 q rm jobs 1764491333.123456.1_1.h
	assert_equal "$stderr" "q rm: jobs: 1764491333.123456.1_1.h: no such message"
	run --separate-stderr -66 timeout 10 q rm jobs 1764491333.123456.1_2.h
	assert_equal "$stderr" "q rm: jobs: 1764491333.123456.1_2.h: no such message"
	[ -p "$dir/new/1764491333.123456.1_1.h" ]
	[ -L "$dir/done/1764491333.123456.1_2.h,a=1" ]
	assert_equal "$(snapshot jobs)" "$before"
}

@test "rm without an ID is 64" {
	q put -m x jobs >/dev/null
	before=$(snapshot jobs)
	run --separate-stderr -64 q rm jobs
	assert_output ""
	assert_equal "$stderr" "q rm: missing id
usage: q rm queue id ..."
	assert_equal "$(snapshot jobs)" "$before"
}

@test "rm in a missing queue is 66" {
	run --separate-stderr -66 q rm nope 1764491333.123456.1_1.h
	assert_output ""
	assert_equal "$stderr" "q rm: nope: no such queue"
	assert_not_exist "$QDIR/nope"
}
