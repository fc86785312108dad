#!/usr/bin/env bats
# q config: per-queue settings.

load helper

@test "config shows the defaults" {
	q put -m x jobs >/dev/null
	run --separate-stderr -0 q config jobs
	assert_output - <<'OUT'
lease = 5m
attempts = 5
backoff = 10s
backoff-max = 1h
keep-done = 7d
keep-failed = 0s
dedup = 1d
sync = 1
OUT
}

@test "config KEY VALUE writes the file; KEY shows it" {
	q put -m x jobs >/dev/null
	run -0 q config jobs lease 90
	run -0 q config jobs lease
	assert_output "90s"
	run -0 q config jobs attempts 3
	assert_file_contains "$(qpath jobs)/config" '^lease = 90$'
	assert_file_contains "$(qpath jobs)/config" '^attempts = 3$'
	assert_equal "$(count jobs tmp)" 0
}

@test "config keeps comments and other lines when setting a key" {
	q put -m x jobs >/dev/null
	printf '# our settings\nattempts = 9   # many\n\nlease=1m\n' >"$(qpath jobs)/config"
	run -0 q config jobs lease 2m
	run cat "$(qpath jobs)/config"
	assert_output $'# our settings\nattempts = 9   # many\n\nlease = 2m'
	run -0 q config jobs attempts
	assert_output 9
}

@test "unknown key and bad values are 65 and change nothing" {
	q put -m x jobs >/dev/null
	q config jobs lease 1m
	before=$(cat "$(qpath jobs)/config")
	run --separate-stderr -65 q config jobs colour blue
	assert_equal "$stderr" "q config: colour: unknown key"
	run --separate-stderr -65 q config jobs lease 13h
	assert_equal "$stderr" "q config: jobs: lease: 13h: invalid value"
	run --separate-stderr -65 q config jobs lease forever
	assert_equal "$stderr" "q config: jobs: lease: forever: invalid value"
	run --separate-stderr -65 q config jobs attempts 0
	assert_equal "$stderr" "q config: jobs: attempts: 0: invalid value"
	run --separate-stderr -65 q config jobs sync yes
	assert_equal "$stderr" "q config: jobs: sync: yes: invalid value"
	run --separate-stderr -65 q config jobs colour
	assert_equal "$(cat "$(qpath jobs)/config")" "$before"
}

@test "a malformed config file makes every command on the queue exit 65" {
	q put -m x jobs >/dev/null
	echo 'lease = forever' >"$(qpath jobs)/config"
	run --separate-stderr -65 q take jobs
	assert_equal "$stderr" "q take: jobs: malformed config"
	run --separate-stderr -65 q put -m y jobs
	assert_equal "$(count jobs new)" 1
	echo 'no equals sign' >"$(qpath jobs)/config"
	run -65 q take jobs
}

@test "config sync = 0 is honoured by put" {
	q put -m x jobs >/dev/null
	q config jobs sync 0
	run -0 q put -m y jobs
	assert_equal "$(count jobs new)" 2
}

@test "config of a missing queue is 66; wrong arguments 64" {
	run --separate-stderr -66 q config nosuch
	assert_equal "$stderr" "q config: nosuch: no such queue"
	run -64 q config
	run -64 q config a b c d
}

@test "a config that is a symlink is malformed (65), never followed" {
	q put -m x jobs >/dev/null
	echo 'lease = 1m' >"$BATS_TEST_TMPDIR/elsewhere"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$(qpath jobs)/config"
	run --separate-stderr -65 q config jobs
	assert_equal "$stderr" "q config: jobs: malformed config"
}
