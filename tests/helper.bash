# Loaded by every .bats file: the BATS libraries, q on PATH, and a fresh
# spool per test under $BATS_TEST_TMPDIR.  Q_TEST_BIN, a directory, puts
# its q first on PATH instead of the one at the top of the tree: tests/run
# sets it to tests/fallback for its second pass (see the Makefile).

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
PATH="${Q_TEST_BIN:-$ROOT}:$PATH"

# A message ID, as q prints it (q(5)).
ID_RE='^[0-9]{10}\.[0-9]{6}\.[0-9]+_[0-9]+\.[A-Za-z0-9.-]+$'

setup() {
	export QDIR="$BATS_TEST_TMPDIR/spool"
	unset XDG_STATE_HOME
	umask 022
}

# Path of queue $1 (under $QDIR).
qpath() {
	printf '%s\n' "$QDIR/$1"
}

# Number of entries in state directory $2 of queue $1.
count() {
	find "$QDIR/$1/$2" -mindepth 1 -maxdepth 1 | wc -l
}

# Names in state directory $2 of queue $1, sorted.
names() {
	ls -1 "$QDIR/$1/$2"
}

# Every file of queue $1 with its size and state: compare before and after
# a command that must change nothing.
snapshot() {
	(cd "$QDIR/$1" && find . -path ./config -prune -o -type f \
		-printf '%p %s\n' | LC_ALL=C sort)
}

# Put N messages "msg 1" .. "msg N" into queue $1.
putn() {
	local i
	for ((i = 1; i <= $2; i++)); do
		q put -m "msg $i" "$1" >/dev/null || return 1
	done
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

# The q under test is the fallback build (tests/fallback/q), which never
# calls renameat2: a test that injects faults into renameat2 cannot apply.
is_fallback() {
	[ -n "${Q_TEST_BIN:-}" ] &&
		[ "$(cd "$Q_TEST_BIN" 2>/dev/null && pwd -P)" = \
			"$(cd "$ROOT/tests/fallback" 2>/dev/null && pwd -P)" ]
}

require_renameat2() {
	if is_fallback; then
		skip "the fallback build moves with linkat + unlinkat, not renameat2"
	fi
}

require_strace() {
	command -v strace >/dev/null || skip "needs strace"
	strace -qq -o /dev/null true 2>/dev/null || skip "strace cannot trace here"
}

# The number of system call $1 on this machine, as /proc/PID/syscall
# shows it; empty where this list does not know it.
syscall_number() {
	case $(uname -m):$1 in
	x86_64:linkat) echo 265 ;;
	x86_64:flock) echo 73 ;;
	x86_64:fdatasync) echo 75 ;;
	aarch64:linkat) echo 37 ;;
	aarch64:flock) echo 32 ;;
	aarch64:fdatasync) echo 83 ;;
	esac
}

# strace, and the numbers of system calls "$@", for held_in.
require_held() {
	local sc
	require_strace
	for sc; do
		[ -n "$(syscall_number "$sc")" ] ||
			skip "the number of $sc on $(uname -m) is not known here"
	done
}

# Wait until the q that strace (PID $1) runs is held at the entry of
# system call $2 (strace's delay_enter), with second argument $3 if given
# (as /proc/PID/syscall shows it: 0x2); fail the test if it is not within
# 5 s.
held_in() {
	local nr q i call
	nr=$(syscall_number "$2")
	for ((i = 0; i < 500; i++)); do
		if q=$(pgrep -P "$1" -x q) &&
			read -ra call <"/proc/$q/syscall" 2>/dev/null &&
			[ "${call[0]}" = "$nr" ] &&
			[ "${3-${call[2]}}" = "${call[2]}" ]; then
			return 0
		fi
		sleep 0.01
	done
	fail "q (under strace, PID $1) was never held at $2"
}

# faketime works by preloading a library: not into a static binary.  The
# sanitizer build (make check-asan) is dynamic and runs these tests.
require_faketime() {
	command -v faketime >/dev/null || skip "needs faketime"
	if file -L "$(command -v q)" | grep -q 'statically linked'; then
		skip "faketime cannot reach a static q; run by make check-asan"
	fi
}
