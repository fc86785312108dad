# Loaded by the .bats files that start processes in the background: keep
# track of them for teardown, and wait for what they do with a limit.

# Remember a process (and its process group, if it leads one) for teardown.
track() {
	echo "$1" >>"$BATS_TEST_TMPDIR/pids"
}

teardown() {
	local pid
	[ -f "$BATS_TEST_TMPDIR/pids" ] || return 0
	while read -r pid; do
		[ -n "$pid" ] || continue
		kill -KILL -- "-$pid" 2>/dev/null || true
		kill -KILL "$pid" 2>/dev/null || true
	done <"$BATS_TEST_TMPDIR/pids"
}

# Run "$@" until it succeeds, at most 200 times 50 ms apart.  Arguments
# are expanded once, by the caller: pass a command, not "$(...)".
waitfor() {
	local i
	for ((i = 0; i < 200; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	echo "gave up waiting for: $*" >&2
	return 1
}

# Is process $1 running (a zombie counts as gone)?
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

gone() {
	! alive "$1"
}

# Is process $1 asleep in poll(2)?
inpoll() {
	local wchan sc
	wchan=$(cat "/proc/$1/wchan" 2>/dev/null) || return 1
	case $wchan in *poll*) return 0 ;; esac
	sc=$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null) || return 1
	case $(uname -m):$sc in
	x86_64:7 | x86_64:271 | aarch64:73) return 0 ;;
	esac
	return 1
}

# Does the command "${@:2}" print a number of at least $1?
atleast() {
	local n
	n=$("${@:2}") && [ "$n" -ge "$1" ]
}
