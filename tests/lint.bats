#!/usr/bin/env bats
# The tree stays clean: warnings are errors, scripts pass shellcheck, and
# the banned functions stay out.

load helper

@test "every C file compiles without a warning under -Wall -Wextra -Wpedantic" {
	for f in "$ROOT"/libspool/*.c "$ROOT"/cmd/*.c; do
		run cc -std=c99 -Wall -Wextra -Wpedantic -Wshadow \
			-Wmissing-prototypes -Werror -D_POSIX_C_SOURCE=200809L \
			-D_DEFAULT_SOURCE -DLIBBSD_OPENBSD_VIS -I"$ROOT/libspool" \
			$(pkg-config --cflags libbsd-overlay) -O2 -fsyntax-only "$f"
		assert_success
		assert_output ""
	done
}

@test "banned.h turns a banned function into a compile error" {
	printf '#include <string.h>\n#include "banned.h"\nvoid f(char *d) { strcpy(d, "x"); }\n' \
		>"$BATS_TEST_TMPDIR/bad.c"
	run cc -c -I"$ROOT/libspool" -o /dev/null "$BATS_TEST_TMPDIR/bad.c"
	assert_failure
	assert_output --partial "sorry_strcpy_is_banned"
}

@test "every C file includes banned.h" {
	for f in "$ROOT"/libspool/*.c "$ROOT"/cmd/*.c; do
		grep -q '#include "banned.h"' "$f" || fail "$f lacks banned.h"
	done
}

@test "the shell scripts pass shellcheck" {
	command -v shellcheck >/dev/null || skip "needs shellcheck"
	run shellcheck -s bash "$ROOT/tests/run" "$ROOT/.ci/run" \
		"$ROOT/completions/q.bash"
	assert_success
	run shellcheck -s sh "$ROOT/tests/deps" "$ROOT/tests/demo"
	assert_success
}

@test "the library never prints, exits or reads the environment" {
	run grep -nE '\b(printf|fprintf|puts|perror|warnx?|errx?|exit|getenv)\(' \
		"$ROOT"/libspool/*.c
	assert_failure 1
}
