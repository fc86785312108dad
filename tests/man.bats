load helper

# The manual pages: they lint clean with mandoc and groff, and the usage of
# every command is the SYNOPSIS line of its entry in q.1, character for
# character.

MAN="$ROOT/man"
PAGES="q.1 q.5 libspool.3 q-bridges.7"

need() {
	local t
	for t; do
		command -v "$t" >/dev/null || skip "needs $t"
	done
}

# The commands listed by `q -h`: the second word of every line but the
# first and `q --version`.
commands() {
	q -h | sed 1d | awk '$2 != "--version" { print $2 }'
}

# The .It Cm entries of the COMMANDS section of q.1 (the source).
man_commands() {
	awk '/^\.Sh / { sh = $2; next }
	    sh == "COMMANDS" && /^\.It Cm / { print $3 }' "$MAN/q.1"
}

# The COMMANDS section of q.1 as rendered, wide enough that no tag wraps.
rendered_commands() {
	mandoc -Tascii -O width=300 "$MAN/q.1" | col -bx | sed 's/ *$//' |
	    awk '/^[A-Z]/ { sh = $0; next } sh == "COMMANDS"'
}

# The rendered tag of command $1: the line of the section that starts with
# the command name at the tag indentation, without that indentation.
tag() {
	rendered_commands | awk -v c="$1" '
	    substr($0, 1, 5) == "     " && substr($0, 6, 1) != " " &&
	    $1 == c { print substr($0, 6) }'
}

lint() {
	need mandoc
	run mandoc -Tlint -Wwarning "$MAN/$1"
	assert_success
	assert_output ''
}

groff_quiet() {
	need groff
	run --separate-stderr groff -mandoc -ww -z "$MAN/$1"
	assert_success
	assert_output ''
	[ -z "$stderr" ] || fail "groff on $1: $stderr"
}

@test "mandoc -Tlint -Wwarning passes q.1" {
	lint q.1
}

@test "mandoc -Tlint -Wwarning passes q-bridges.7" {
	lint q-bridges.7
}

@test "groff -ww prints nothing for q-bridges.7" {
	groff_quiet q-bridges.7
}

# The text of .Bd -literal block number $2 (from 1) of page $1, as mandoc
# renders it: what a reader copies.
literal() {
	awk -v want="$2" '
	    /^\.Bd -literal/ { n++; on = n == want; next }
	    /^\.Ed/ { on = 0; next }
	    on' "$MAN/$1" | sed 's/^\\&//; s/\\e/\\/g'
}

@test "q-bridges.7 shows each bridge script of the tests exactly as it is" {
	local f base found n blocks
	blocks=$(grep -c '^\.Bd -literal' "$MAN/q-bridges.7")
	found=0
	for f in "$ROOT"/tests/bridge/*-publish "$ROOT"/tests/bridge/*-consume; do
		[ -e "$f" ] || continue
		base=${f##*/}
		for ((n = 1; n <= blocks; n++)); do
			if [ "$(literal q-bridges.7 "$n")" = "$(cat "$f")" ]; then
				found=$((found + 1))
				continue 2
			fi
		done
		fail "tests/bridge/$base is not in q-bridges.7 as it is"
	done
	[ "$found" -ge 1 ] || fail "no bridge script found under tests/bridge"
}

@test "mandoc -Tlint -Wwarning passes q.5" {
	lint q.5
}

@test "mandoc -Tlint -Wwarning passes libspool.3" {
	lint libspool.3
}

@test "groff -ww prints nothing for q.1" {
	groff_quiet q.1
}

@test "groff -ww prints nothing for q.5" {
	groff_quiet q.5
}

@test "groff -ww prints nothing for libspool.3" {
	groff_quiet libspool.3
}

@test "every page exists and names its section" {
	local p
	for p in $PAGES; do
		assert_file_exists "$MAN/$p"
		run grep -c "^\.Dt [A-Z-]* ${p##*.}\$" "$MAN/$p"
		assert_output 1
	done
}

@test "q -h lists the commands and exits 0" {
	run -0 q -h
	assert_line --index 0 'usage: q command [argument ...]'
	assert_line '       q --version'
	run commands
	[ "${#lines[@]}" -gt 0 ] || fail "q -h lists no command"
}

@test "the commands of q -h are the .It Cm entries of COMMANDS in q.1" {
	run diff <(commands | sort) <(man_commands | sort)
	assert_success
	assert_output ''
}

@test "q CMD -h prints the SYNOPSIS line of CMD in q.1 and exits 0" {
	need mandoc col
	local cmd t n=0
	for cmd in $(commands); do
		t=$(tag "$cmd")
		[ -n "$t" ] || fail "q.1: no rendered .It line for $cmd"
		[ "$(printf '%s\n' "$t" | wc -l)" -eq 1 ] ||
			fail "q.1: several rendered .It lines for $cmd: $t"
		run -0 --separate-stderr q "$cmd" -h
		assert_output "usage: q $t"
		[ -z "$stderr" ] || fail "q $cmd -h wrote to stderr: $stderr"
		run -0 --separate-stderr q "$cmd" --help
		assert_output "usage: q $t"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}

@test "q -h shows the usage of each command as q CMD -h does" {
	local cmd line
	for cmd in $(commands); do
		line=$(q -h | awk -v c="$cmd" '$2 == c { sub(/^ */, ""); print }')
		run -0 q "$cmd" -h
		assert_output "usage: ${line#usage: }"
	done
}

@test "q CMD --bogus exits 64 with the usage on stderr" {
	local cmd
	for cmd in $(commands); do
		run -64 --separate-stderr q "$cmd" --bogus
		assert_output ''
		[ "${stderr_lines[-1]}" = "usage: $(q "$cmd" -h | sed 's/^usage: //')" ] ||
			fail "q $cmd --bogus: stderr: $stderr"
	done
}
