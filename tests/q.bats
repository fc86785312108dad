#!/usr/bin/env bats
# q itself: dispatch, help, version.

load helper

@test "q --version prints the version" {
	run --separate-stderr -0 q --version
	assert_output --regexp '^q [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "q -h and --help list every command on stdout" {
	run --separate-stderr -0 q -h
	assert_line --index 0 "usage: q command [argument ...]"
	for c in put take cat ack release fail touch sweep config; do
		assert_line --regexp "^       q $c( |\$)"
	done
	run -0 q --help
}

@test "q without a command, or an unknown one, is 64 with usage on stderr" {
	run --separate-stderr -64 q
	assert_output ""
	[[ $stderr == "usage: q command"* ]]
	run --separate-stderr -64 q frobnicate
	[[ $stderr == "q: frobnicate: unknown command"* ]]
}

@test "commands match exactly, no abbreviations" {
	run -64 q pu -m x jobs
	run -64 q PUT -m x jobs
	assert_not_exists "$QDIR/jobs"
}

@test "every command has -h and --help printing its usage on stdout" {
	for c in $(q -h | awk 'NR > 1 && $2 != "--version" { print $2 }'); do
		run --separate-stderr -0 q "$c" -h
		[[ $output == "usage: q $c"* ]]
		assert_equal "$stderr" ""
		run --separate-stderr -0 q "$c" --help
		[[ $output == "usage: q $c"* ]]
	done
}

@test "output errors are caught: q --version >/dev/full is 74" {
	run --separate-stderr -74 sh -c 'q --version >/dev/full'
	[[ $stderr == "q: stdout: No space left on device" ]]
}

@test "getopt's own messages carry the command's name" {
	run --separate-stderr -64 q put --bogus jobs
	[[ ${stderr%%$'\n'*} == "q put: unrecognized option '--bogus'" ]]
}
