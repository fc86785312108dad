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
skew = auto
poll = 1s
locks = auto
host = auto
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
	assert_equal "$stderr" "q config: jobs: colour: unknown key"
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

@test "backoff above backoff-max is refused, in either order of setting them" {
	q put -m x jobs >/dev/null
	before=$(cat "$(qpath jobs)/config" 2>/dev/null || true)
	run --separate-stderr -65 q config jobs backoff 2h
	assert_equal "$stderr" "q config: jobs: backoff: 2h: backoff above backoff-max"
	q config jobs backoff 10m
	run --separate-stderr -65 q config jobs backoff-max 5m
	assert_equal "$stderr" "q config: jobs: backoff-max: 5m: backoff above backoff-max"
	assert_equal "$(q config jobs backoff-max)" 1h
	assert_equal "$(q config jobs backoff)" 10m
}

@test "rewriting a key keeps the comment on its line" {
	q put -m x jobs >/dev/null
	printf '# retries\nlease = 5m # long jobs\nattempts = 3\n' \
	    >"$(qpath jobs)/config"
	q config jobs lease 10m
	assert_equal "$(cat "$(qpath jobs)/config")" "# retries
lease = 10m # long jobs
attempts = 3"
}

@test "a malformed config file makes every command that acts on the queue exit 65, naming the file and line" {
	q put -m x jobs >/dev/null
	printf '# ok\nlease = forever\n' >"$(qpath jobs)/config"
	run --separate-stderr -65 q take jobs
	assert_equal "$stderr" "q take: jobs: malformed config: $QDIR/jobs/config: line 2: lease: invalid value"
	run --separate-stderr -65 q put -m y jobs
	assert_equal "$(count jobs new)" 1
	run --separate-stderr -65 q sweep jobs
	run --separate-stderr -65 q work jobs true
	assert_equal "$(count jobs new)" 1
	echo 'no equals sign' >"$(qpath jobs)/config"
	run --separate-stderr -65 q take jobs
	assert_equal "$stderr" "q take: jobs: malformed config: $QDIR/jobs/config: line 1: no '='"
	echo 'colour = blue' >"$(qpath jobs)/config"
	run --separate-stderr -65 q take jobs
	assert_equal "$stderr" "q take: jobs: malformed config: $QDIR/jobs/config: line 1: colour: unknown key"
}

@test "ls, stat and config still work on a queue whose config is malformed, and say what is wrong" {
	id=$(q put -m x jobs)
	echo 'lease = forever' >"$(qpath jobs)/config"
	msg="malformed config: $QDIR/jobs/config: line 1: lease: invalid value"
	run --separate-stderr -0 q ls jobs
	assert_output --partial "$id"
	assert_equal "$stderr" "q ls: jobs: $msg"
	run --separate-stderr -0 q stat jobs
	assert_line --regexp '^  new +1 '
	assert_equal "$stderr" "q stat: jobs: $msg"
	run --separate-stderr -0 q stat
	assert_equal "$stderr" "q stat: jobs: $msg"
	# config shows the defaults in effect, and mends the file
	run --separate-stderr -0 q config jobs lease
	assert_output 5m
	assert_equal "$stderr" "q config: jobs: $msg"
	run --separate-stderr -0 q config jobs lease 10m
	assert_equal "$(cat "$(qpath jobs)/config")" "lease = 10m"
	run --separate-stderr -0 q take jobs
	assert_equal "$stderr" ""
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
	run --separate-stderr -65 q take jobs
	assert_equal "$stderr" "q take: jobs: malformed config: $QDIR/jobs/config: a symbolic link"
	run --separate-stderr -0 q config jobs lease
	assert_output 5m
}
