#!/usr/bin/env bats
# q ack: cur -> done.

load helper

@test "ack moves the claim to done/ without lease or worker" {
	id=$(q put -p 2 -m x jobs)
	t=$(q take jobs)
	run --separate-stderr -0 q ack jobs "$t"
	assert_output ""
	assert_equal "$(names jobs done)" "$id,p=2,a=1"
	assert_equal "$(count jobs cur)" 0
}

@test "ack by bare ID, by name and by path" {
	putn jobs 3
	t1=$(q take jobs); t2=$(q take jobs); t3=$(q take jobs)
	q ack jobs "${t1%,a=*}"
	n2=$(ls "$(qpath jobs)/cur" | grep "^${t2%,a=*}")
	q ack jobs "$n2"
	n3=$(ls "$(qpath jobs)/cur" | grep "^${t3%,a=*}")
	q ack jobs "$(qpath jobs)/cur/$n3"
	assert_equal "$(count jobs done)" 3
	assert_equal "$(count jobs cur)" 0
}

@test "ack of several IDs acts on each; the first failure decides" {
	putn jobs 2
	t1=$(q take jobs); t2=$(q take jobs)
	run --separate-stderr -66 q ack jobs "$t1" "$t1" "$t2"
	assert_equal "$stderr" "q ack: jobs: $t1: no longer claimed"
	assert_equal "$(count jobs done)" 2
}

@test "a second ack is 66 and changes nothing" {
	q put -m x jobs >/dev/null
	t=$(q take jobs)
	q ack jobs "$t"
	before=$(snapshot jobs)
	run --separate-stderr -66 q ack jobs "$t"
	assert_equal "$stderr" "q ack: jobs: $t: no longer claimed"
	assert_equal "$(snapshot jobs)" "$before"
}

@test "ack of an unclaimed message is 66" {
	id=$(q put -m x jobs)
	run --separate-stderr -66 q ack jobs "$id"
	assert_equal "$stderr" "q ack: jobs: $id: not claimed"
	assert_equal "$(count jobs new)" 1
}

@test "ack of an unknown ID says no such message" {
	q put -m x jobs >/dev/null
	run --separate-stderr -66 q ack jobs 1764491333.123456.1_1.elsewhere
	assert_equal "$stderr" "q ack: jobs: 1764491333.123456.1_1.elsewhere: no such message"
}

@test "a stale token is fenced off after the message was claimed again" {
	q put -m x jobs >/dev/null
	t1=$(q take jobs)
	q release jobs "$t1"
	t2=$(q take jobs)
	before=$(snapshot jobs)
	run --separate-stderr -66 q ack jobs "$t1"
	assert_equal "$(snapshot jobs)" "$before"
	run -0 q ack jobs "$t2"
}

@test "with keep-done 0 an ack deletes the message" {
	q put -m x jobs >/dev/null
	q config jobs keep-done 0
	t=$(q take jobs)
	run -0 q ack jobs "$t"
	assert_equal "$(count jobs done)" 0
	assert_equal "$(count jobs cur)" 0
}

@test "ack never moves or deletes a foreign file in cur/" {
	q put -m x jobs >/dev/null
	mkfifo "$(qpath jobs)/cur/1764491333.123456.1_1.h,a=1,l=9999999999"
	q config jobs keep-done 0
	run -66 timeout 10 q ack jobs 1764491333.123456.1_1.h,a=1,l=9999999999
	assert_exists "$(qpath jobs)/cur/1764491333.123456.1_1.h,a=1,l=9999999999"
}

@test "malformed ID, missing queue, no ID" {
	q put -m x jobs >/dev/null
	run --separate-stderr -65 q ack jobs ../x
	assert_equal "$stderr" "q ack: jobs: ../x: malformed ID"
	run --separate-stderr -66 q ack nosuch 1764491333.123456.1_1.h
	assert_equal "$stderr" "q ack: nosuch: no such queue"
	run --separate-stderr -64 q ack jobs
	assert_equal "$stderr" "q ack: missing id
usage: q ack queue id ..."
}
