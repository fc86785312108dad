# bash completion for q(1), the spool queue             -*- shell-script -*-
#
# Installed as share/bash-completion/completions/q, which bash-completion
# loads the first time q is completed.

# The commands of q, in the order `q -h` lists them.  Each row is the name,
# what its operands after the queue are, and its options (an option that
# takes an argument ends in "="; -h/--help goes without saying).  What
# follows the queue is one of
#
#	files		file names
#	command		a command line (after an optional --)
#	queue		one more queue
#	queues		more queues
#	subs		one subscriber of the topic (the names in its subs/)
#	keys		one config key
#	none		nothing
#	STATE,...	IDs of the messages in those states
#
# A new command is one more row (and the values of its options, if any, in
# _q_values).
_q_commands=(
	'put     files   -d= --delay= -p= --priority= -k= --key= -K --keyed -l --lines -0 --null -m= --message= --no-sync --group= --linger='
	'take    none    -l= --lease= -w= --wait='
	'cat     new,cur,done,failed'
	'ack     cur'
	'release cur     -d= --delay='
	'fail    cur'
	'touch   cur     -l= --lease='
	'work    command -f --follow -q --quiet -T --tag -a= --attempts= -b= --batch= -j= --jobs= -l= --lease= -n= --max= -t= --timeout='
	'wait    none    -t= --timeout='
	'sweep   queues  -n --dry-run -v --verbose'
	'ls      none    -r --reverse -S= --sort= -s= --state= -l --long -0 --null --json'
	'stat    queues  --json --prom'
	'retry   failed  -a --all'
	'replay  done    -s= --since='
	'purge   none    -s= --state= -o= --older='
	'rm      new,done,failed'
	'drop    none    -f --force'
	'pause   none'
	'resume  none'
	'sub     queue'
	'unsub   subs'
	'config  keys'
)

_q_config_keys=(lease attempts backoff backoff-max keep-done keep-failed
	dedup sync skew poll locks host)

# The values of option $2 of command $1, where there is a short list.
_q_values()
{
	case $1:$2 in
	put:-p | put:--priority) _q_add 0 1 2 3 4 5 6 7 8 9 ;;
	ls:-s | ls:--state) _q_add new cur 'done' failed ;;
	ls:-S | ls:--sort) _q_add id age size none ;;
	purge:-s | purge:--state) _q_add new 'done' failed ;;
	esac
}

# Add to COMPREPLY those arguments that begin with $cur.
_q_add()
{
	local w
	for w; do
		[[ $w == "$cur"* ]] && COMPREPLY+=("$w")
	done
}

# The directory of queue $1 in REPLY: a path if it has a '/', otherwise a
# name under $QDIR, or ${XDG_STATE_HOME:-$HOME/.local/state}/q.
_q_dir()
{
	case $1 in
	\~/*) REPLY=$HOME/${1#\~/} ;;
	*/*) REPLY=$1 ;;
	*) REPLY=${QDIR:-${XDG_STATE_HOME:-$HOME/.local/state}/q}/$1 ;;
	esac
}

# The names in directory $1 that begin with $cur, dot files excepted, in
# the array names; with $2 = dirs only directories.
_q_names()
{
	local f failglob=''
	names=()
	if shopt -q failglob; then
		failglob=1
		shopt -u failglob
	fi
	for f in "$1/$cur"*; do
		[[ -e $f || -L $f ]] || continue
		[[ ${2-} == dirs && ! -d $f ]] && continue
		f=${f##*/}
		[[ $f == .* ]] || names+=("$f")
	done
	[[ $failglob ]] && shopt -s failglob
	return 0
}

# Queue names, or directories once the word looks like a path.
_q_queues()
{
	if [[ $cur == */* || $cur == \~* ]]; then
		_filedir -d
		return
	fi
	local -a names
	_q_names "${QDIR:-${XDG_STATE_HOME:-$HOME/.local/state}/q}" dirs
	COMPREPLY+=("${names[@]}")
}

# The IDs of the messages of queue $1 in the states $2 (separated by
# commas): each file name up to its first ',' (names that are no message
# are left out).
_q_ids()
{
	local dir state name
	local -a names states
	_q_dir "$1"
	dir=$REPLY
	IFS=, read -ra states <<<"$2"
	for state in "${states[@]}"; do
		_q_names "$dir/$state"
		for name in "${names[@]}"; do
			name=${name%%,*}
			[[ $name == [0-9]*.[0-9]*.[0-9]*_[0-9]*.?* ]] &&
				COMPREPLY+=("$name")
		done
	done
}

_q()
{
	local cur prev words cword split
	_init_completion -s || return

	local row kind w opt c i j n=0 qi=0 queue='' optarg='' dashdash=''
	local -a f opts=(-h --help) argopts=()

	if ((cword == 1)); then
		if [[ $cur == -* ]]; then
			_q_add -h --help --version
		else
			for row in "${_q_commands[@]}"; do
				_q_add "${row%% *}"
			done
		fi
		return
	fi

	for row in "${_q_commands[@]}"; do
		read -ra f <<<"$row"
		[[ ${f[0]} == "${words[1]}" ]] || continue
		kind=${f[1]}
		for opt in "${f[@]:2}"; do
			opts+=("${opt%=}")
			[[ $opt == *= ]] && argopts+=("${opt%=}")
		done
	done
	[[ $kind ]] || return

	# Skip the options, which all come before the queue, and count the
	# operands before the cursor.
	for ((i = 2; i < cword; i++)); do
		w=${words[i]}
		if ((n > 0)) || [[ $dashdash ]]; then
			if ((n++ == 0)); then
				queue=$w
				qi=$i
			fi
			continue
		fi
		case $w in
		--)
			dashdash=1
			;;
		--*=*) ;;
		--?*)
			if [[ " ${argopts[*]} " == *" $w "* ]]; then
				((i + 1 == cword)) && optarg=$w
				((i++))
			fi
			;;
		-?*)
			for ((j = 1; j < ${#w}; j++)); do
				c=-${w:j:1}
				[[ " ${argopts[*]} " == *" $c "* ]] || continue
				if ((j + 1 == ${#w})); then
					((i + 1 == cword)) && optarg=$c
					((i++))
				fi
				break
			done
			;;
		*)
			queue=$w
			qi=$i
			n=1
			;;
		esac
	done

	if [[ $split == true ]] && ((n == 0)); then
		optarg=$prev
	fi
	if [[ $optarg ]]; then
		_q_values "${words[1]}" "$optarg"
		return
	fi

	if ((n == 0)); then
		if [[ $cur == -* && ! $dashdash ]]; then
			_q_add "${opts[@]}"
		else
			_q_queues
		fi
		return
	fi

	case $kind in
	files) _filedir ;;
	command)
		# the command line of work starts after the queue and --
		i=$((qi + 1))
		[[ ${words[i]} == -- ]] && ((i < cword)) && ((i++))
		_command_offset "$i"
		;;
	queue) ((n == 1)) && _q_queues ;;
	queues) _q_queues ;;
	subs)
		if ((n == 1)); then
			local -a names
			_q_dir "$queue"
			_q_names "$REPLY/subs"
			COMPREPLY+=("${names[@]}")
		fi
		;;
	keys) ((n == 1)) && _q_add "${_q_config_keys[@]}" ;;
	none) ;;
	*)
		# retry takes -a after its queue, where getopt has stopped
		if [[ ${words[1]} == retry && $cur == -* ]]; then
			((n == 1)) && _q_add -a --all
			return
		fi
		_q_ids "$queue" "$kind"
		;;
	esac
}

complete -F _q q

# ex: filetype=sh
