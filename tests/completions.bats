#!/usr/bin/env bats
# The completions for bash, zsh and fish, driven through the shells
# themselves: the commands are those of `q -h`, the options those of each
# command, queue names come from the queue root, and the IDs after the
# queue from the state directories.

load helper

COMPLETIONS=$ROOT/completions

# The commands `q -h` lists, one a line, sorted.
q_commands() {
	q -h | awk 'NR > 1 && $2 != "--version" { print $2 }' | LC_ALL=C sort
}

# The options of command $1, one a line, sorted: -h and the short ones of
# its synopsis ([-x arg], [-xy], | -x), --help and the long ones of the
# longopts in cmd/$1.c.
q_options() {
	{
		echo -h
		q "$1" -h | grep -oE '(\[|\| )-[A-Za-z0-9]+' |
			sed 's/^[[| ]*-//' | fold -w 1 | sed 's/^/-/'
		echo --help
		if [ -f "$ROOT/cmd/$1.c" ]; then
			sed -n '/longopts\[\] = {/,/};/p' "$ROOT/cmd/$1.c" |
				grep -oE '\{ "[^"]+"' | sed 's/^{ "/--/; s/"$//'
		fi
	} | LC_ALL=C sort -u
}

# Queues jobs, with one message in each of done/, failed/, cur/ and new/,
# and mail, with one message; a directory that is no queue name and a
# file that is no queue.  Sets DONE, FAILED, CLAIMED and WAITING to the
# IDs in jobs.
spool() {
	q put -m one -m two -m three -m four jobs >/dev/null
	q put -m five mail >/dev/null
	DONE=$(q take jobs)
	q ack jobs "$DONE"
	DONE=${DONE%%,*}
	FAILED=$(q take jobs)
	q fail jobs "$FAILED"
	FAILED=${FAILED%%,*}
	CLAIMED=$(q take jobs)
	CLAIMED=${CLAIMED%%,*}
	WAITING=$(names jobs new)
	WAITING=${WAITING%%,*}
	mkdir "$QDIR/.hidden"
	: >"$QDIR/notes"
}

# The arguments, one a line, sorted.
sorted() {
	printf '%s\n' "$@" | LC_ALL=C sort
}

require_bash_completion() {
	[ -r /usr/share/bash-completion/bash_completion ] ||
		skip "bash-completion is not installed"
}

# What bash completes for q followed by the arguments, the last one being
# the word under the cursor: one candidate a line, sorted.
complete_bash() {
	set -o pipefail
	bash --norc --noprofile -c '
		. /usr/share/bash-completion/bash_completion || exit 2
		. "$1" || exit 2
		shift
		spec=$(complete -p q) || exit 2
		fn=${spec##*-F }
		fn=${fn%% *}
		COMP_WORDS=(q "$@")
		COMP_CWORD=$#
		COMP_LINE="${COMP_WORDS[*]}"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		"$fn" q "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		if ((${#COMPREPLY[@]} > 0)); then
			printf "%s\n" "${COMPREPLY[@]}"
		fi
	' _ "$COMPLETIONS/q.bash" "$@" | LC_ALL=C sort
}

require_fish() {
	command -v fish >/dev/null || skip "fish is not installed"
}

# What fish completes for the command line $1: one candidate a line,
# sorted, without descriptions.
complete_fish() {
	set -o pipefail
	mkdir -p "$BATS_TEST_TMPDIR/home"
	HOME=$BATS_TEST_TMPDIR/home fish --no-config -c '
		source $argv[1]; or exit 2
		complete -C $argv[2]
	' "$COMPLETIONS/q.fish" "$1" | cut -f1 | LC_ALL=C sort
}

require_zsh() {
	command -v zsh >/dev/null || skip "zsh is not installed"
}

# Types each argument and a TAB into an interactive zsh (in a zpty) that
# ran compinit with the completions on $fpath.  The candidates of the Nth
# line end up, sorted, in $ZOUT/N.  Not for run: it sets ZOUT.
complete_zsh() {
	zsh -fc 'zmodload zsh/zpty' 2>/dev/null || skip "zsh has no zpty"
	ZOUT=$BATS_TEST_TMPDIR/zsh
	mkdir -p "$ZOUT"
	cat >"$ZOUT/init.zsh" <<'EOF'
PS1='' RPS1='' PROMPT_EOL_MARK=''
unsetopt autolist beep
fpath=($Q_COMPDIR $fpath)
autoload -Uz compinit && compinit -u -D
# TAB completes, then shows a message the driver waits for.
__q_tab() { zle complete-word; zle -M __comp_done__ }
zle -N __q_tab
bindkey '^I' __q_tab
# Note every match before adding it; -O, -A and -D only ask.
compadd() {
  local arg
  local -a got
  for arg in "$@"; do
    case $arg in
    (--) break ;;
    (-[OAD]*) builtin compadd "$@"; return ;;
    esac
  done
  builtin compadd -O got "$@"
  (( $#got )) && print -rl -- $got >>$Q_GOT
  builtin compadd "$@"
}
EOF
	cat >"$ZOUT/drive.zsh" <<'EOF'
zmodload zsh/zpty || exit 2
zpty qz zsh -f -i || exit 2
zpty -w qz "source ${(q)Q_INIT}; print \${:-__re}ady__"
zpty -r qz out '*__ready__*' || exit 3
n=0
for line; do
  (( n++ ))
  : >| $Q_GOT
  zpty -w -n qz "$line"$'\t'
  zpty -r qz out '*__comp_done__*' || exit 3
  zpty -w qz $'\C-u'"print \${:-__do}ne__$n"
  zpty -r qz out "*__done__$n*" || exit 3
  sort -u $Q_GOT >| $Q_OUT/$n
done
zpty -d qz
EOF
	Q_COMPDIR=$COMPLETIONS Q_INIT=$ZOUT/init.zsh Q_GOT=$ZOUT/got \
	    Q_OUT=$ZOUT LC_ALL=C timeout 60 zsh -f "$ZOUT/drive.zsh" "$@"
}

# --- bash ---

@test "bash: the commands are those of q -h" {
	require_bash_completion
	run -0 complete_bash ''
	assert_output "$(q_commands)"
	run -0 complete_bash -
	assert_output "$(sorted -h --help --version)"
}

@test "bash: q pu offers put (and purge), q put only put" {
	require_bash_completion
	run -0 complete_bash pu
	assert_line put
	refute_line --regexp '^([^p]|p[^u])'
	run -0 complete_bash put
	assert_output put
}

@test "bash: the options of every command" {
	require_bash_completion
	run -0 complete_bash put -
	assert_line --no-sync
	for c in $(q_commands); do
		run -0 complete_bash "$c" -
		assert_output "$(q_options "$c")"
	done
	run -0 complete_bash ls -s ''
	assert_output "$(sorted new cur done failed)"
}

@test "bash: queue names come from \$QDIR, then \$XDG_STATE_HOME" {
	require_bash_completion
	spool
	run -0 complete_bash ack ''
	assert_output "$(sorted jobs mail)"
	run -0 complete_bash put -m x j
	assert_output jobs
	run -0 complete_bash sweep jobs ''
	assert_output "$(sorted jobs mail)"
	mkdir -p "$BATS_TEST_TMPDIR/state/q/other"
	QDIR='' XDG_STATE_HOME=$BATS_TEST_TMPDIR/state run -0 complete_bash ack ''
	assert_output other
}

@test "bash: ack completes claimed messages only, cat every message" {
	require_bash_completion
	spool
	run -0 complete_bash ack jobs ''
	assert_output "$CLAIMED"
	refute_line "$WAITING"
	run -0 complete_bash ack "$QDIR/jobs" ''
	assert_output "$CLAIMED"
	run -0 complete_bash cat jobs ''
	assert_output "$(sorted "$DONE" "$FAILED" "$CLAIMED" "$WAITING")"
	run -0 complete_bash take jobs ''
	assert_output ''
}

@test "bash: retry, replay and rm complete the messages they act on" {
	require_bash_completion
	spool
	run -0 complete_bash retry jobs ''
	assert_output "$FAILED"
	run -0 complete_bash retry jobs -
	assert_output "$(sorted -a --all)"
	run -0 complete_bash replay jobs ''
	assert_output "$DONE"
	run -0 complete_bash rm jobs ''
	assert_output "$(sorted "$DONE" "$FAILED" "$WAITING")"
}

@test "bash: sub takes one queue after the topic, unsub a subscriber" {
	require_bash_completion
	spool
	q sub news mail
	run -0 complete_bash sub news ''
	assert_output "$(sorted jobs mail news)"
	run -0 complete_bash sub news jobs ''
	assert_output ''
	run -0 complete_bash unsub news ''
	assert_output mail
}

@test "bash: config keys, then nothing; files after put's queue" {
	require_bash_completion
	spool
	run -0 complete_bash config jobs ''
	assert_output "$(sorted lease attempts backoff backoff-max keep-done \
	    keep-failed dedup sync skew poll locks host)"
	run -0 complete_bash config jobs lease ''
	assert_output ''
	cd "$BATS_TEST_TMPDIR"
	: >letter.txt
	run -0 complete_bash put jobs let
	assert_output letter.txt
}

@test "bash: work completes a command line after its queue" {
	require_bash_completion
	spool
	run -0 --separate-stderr complete_bash work -j 2 jobs -- ech
	assert_line echo
	run -0 --separate-stderr complete_bash work jobs ech
	assert_line echo
}

# --- fish ---

@test "fish: the commands are those of q -h" {
	require_fish
	run -0 complete_fish 'q '
	assert_output "$(q_commands)"
}

@test "fish: q pu offers put (and purge), q put only put" {
	require_fish
	run -0 complete_fish 'q pu'
	assert_line put
	refute_line --regexp '^([^p]|p[^u])'
	run -0 complete_fish 'q put'
	assert_output put
}

@test "fish: the options of every command" {
	require_fish
	run -0 complete_fish 'q put -'
	assert_line --no-sync
	for c in $(q_commands); do
		run -0 complete_fish "q $c -"
		assert_output "$(q_options "$c")"
	done
}

@test "fish: queue names come from \$QDIR, then \$XDG_STATE_HOME" {
	require_fish
	spool
	run -0 complete_fish 'q ack '
	assert_output "$(sorted jobs mail)"
	run -0 complete_fish 'q put -m x j'
	assert_output jobs
	mkdir -p "$BATS_TEST_TMPDIR/state/q/other"
	QDIR='' XDG_STATE_HOME=$BATS_TEST_TMPDIR/state run -0 complete_fish 'q ack '
	assert_output other
}

@test "fish: IDs after the queue, in the states of the command" {
	require_fish
	spool
	run -0 complete_fish 'q ack jobs '
	assert_output "$CLAIMED"
	refute_line "$WAITING"
	run -0 complete_fish 'q cat jobs '
	assert_output "$(sorted "$DONE" "$FAILED" "$CLAIMED" "$WAITING")"
	run -0 complete_fish 'q retry jobs '
	assert_output "$FAILED"
	run -0 complete_fish 'q rm jobs '
	assert_output "$(sorted "$DONE" "$FAILED" "$WAITING")"
	q sub news mail
	run -0 complete_fish 'q unsub news '
	assert_output mail
	run -0 complete_fish 'q config jobs '
	assert_line lease
	run -0 complete_fish 'q config jobs lease '
	assert_output ''
}

# --- zsh ---

@test "zsh: compinit finds _q for q" {
	require_zsh
	run -0 zsh -fc 'fpath=($1 $fpath); autoload -Uz compinit &&
	    compinit -u -D; print -r -- ${_comps[q]}' _ "$COMPLETIONS"
	assert_output _q
}

@test "zsh: commands and options in a live session" {
	require_zsh
	local cmds c n=4
	local -a lines=('q ' 'q pu' 'q put -')
	cmds=$(q_commands)
	for c in $cmds; do
		lines+=("q $c -")
	done
	complete_zsh "${lines[@]}"
	assert_equal "$(cat "$ZOUT/1")" "$cmds"
	grep -qx put "$ZOUT/2"
	run grep -v '^pu' "$ZOUT/2"
	assert_output ''
	grep -qx -- --no-sync "$ZOUT/3"
	for c in $cmds; do
		assert_equal "$(cat "$ZOUT/$n")" "$(q_options "$c")"
		n=$((n + 1))
	done
}

@test "zsh: queue names and message IDs in a live session" {
	require_zsh
	spool
	q sub news mail
	complete_zsh 'q ack ' 'q ack jobs ' 'q cat jobs ' 'q config jobs ' \
	    'q retry jobs ' 'q rm jobs ' 'q unsub news '
	assert_equal "$(cat "$ZOUT/1")" "$(sorted jobs mail news)"
	assert_equal "$(cat "$ZOUT/2")" "$CLAIMED"
	assert_equal "$(cat "$ZOUT/3")" \
	    "$(sorted "$DONE" "$FAILED" "$CLAIMED" "$WAITING")"
	grep -qx backoff-max "$ZOUT/4"
	assert_equal "$(cat "$ZOUT/5")" "$FAILED"
	assert_equal "$(cat "$ZOUT/6")" "$(sorted "$DONE" "$FAILED" "$WAITING")"
	assert_equal "$(cat "$ZOUT/7")" mail
}

# --- lint ---

@test "lint: bash -n and shellcheck" {
	run -0 bash -n "$COMPLETIONS/q.bash"
	assert_output ''
	command -v shellcheck >/dev/null || skip "shellcheck is not installed"
	run -0 shellcheck -s bash "$COMPLETIONS/q.bash"
	assert_output ''
}

@test "lint: zsh -n" {
	require_zsh
	run -0 zsh -n "$COMPLETIONS/_q"
	assert_output ''
}

@test "lint: fish --no-execute" {
	require_fish
	run -0 fish --no-execute "$COMPLETIONS/q.fish"
	assert_output ''
}
