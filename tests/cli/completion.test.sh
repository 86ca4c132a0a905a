#!/usr/bin/env bash
# `kvmprobe completion bash|zsh|fish`: the scripts generated from the CLI11 definition.
# bash: source the script and complete command lines through COMP_WORDS/COMP_CWORD as bash
# does (it splits "--json=pr" into --json, =, pr); every subcommand of --help and every option
# of `check --help` is offered. zsh and fish: the shell parses the file (zsh -n, fish -n),
# and fish completes a few lines itself (complete -C). Without zsh or fish those checks are
# skipped, saying so.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

for sh in bash zsh fish; do
  kp completion "$sh"
  expect_rc 0 "completion $sh: exit 0"
  printf '%s\n' "$OUT" >"$TMP/kvmprobe.$sh"
done
kp completion tcsh
expect_rc 2 "completion tcsh: usage error"
kp --help
expect_out_lacks "completion" "the completion command is hidden from --help"
help=$OUT

# complete WORDS...: run the bash completion for the command line WORDS (the last word is the
# one being completed) and put the candidates, sorted, one per line, in $GOT.
complete_bash() {
  GOT=$(bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _kvmprobe
    printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$TMP/kvmprobe.bash" "$@" 2>&1)
}
expect_got() {
  local desc=$1 want=$2
  if [[ $GOT == "$want" ]]; then pass "$desc"; else fail "$desc" "got: $(tr '\n' ' ' <<<"$GOT") want: $(tr '\n' ' ' <<<"$want")"; fi
}
expect_got_has() {
  if grep -qx -- "$2" <<<"$GOT"; then pass "$1"; else fail "$1" "$2 not among: $(tr '\n' ' ' <<<"$GOT")"; fi
}

check "bash: the script parses" bash -n "$TMP/kvmprobe.bash"
complete_bash kvmprobe ch
expect_got "bash: 'kvmprobe ch' → check" "check"
complete_bash kvmprobe co
expect_got "bash: 'kvmprobe co' → compat, completion stays hidden" "compat"
complete_bash kvmprobe --format ""
expect_got "bash: '--format ' → the CheckedTransformer's values" "$(printf '%s\n' json prometheus text)"
complete_bash kvmprobe --json = s
expect_got "bash: '--json=s' → short" "short"
complete_bash kvmprobe --color never q
expect_got "bash: after an option's value, commands again ('q' matches none)" ""
complete_bash kvmprobe --color never fl
expect_got "bash: '--color never fl' → fleet" "fleet"
complete_bash kvmprobe msrs --assume-rdmsr ""
expect_got "bash: a subcommand's enum option" "$(printf '%s\n' none vendor)"
complete_bash kvmprobe --from x.json check --diff
expect_got "bash: 'check --diff' → --diff-kernel" "--diff-kernel"
complete_bash kvmprobe check --kernel 6.1
expect_got "bash: --kernel offers the modelled versions" "$(printf '%s\n' 6.1 6.1.0 6.12)"
complete_bash kvmprobe driver ""
expect_got "bash: driver's subcommands" "$(printf '%s\n' load status unload)"
complete_bash kvmprobe driver load --
expect_got_has "bash: 'driver load --' offers load's --ko" "--ko"
complete_bash kvmprobe import --
for o in --libcpuid --aida64 --dump --release; do
  expect_got_has "bash: 'import --' offers $o (the dump option group and the rest)" "$o"
done
check "zsh: an option of import's exactly-one-of group excludes the others" \
  grep -qF -- "'(--aida64 --dump --libcpuid)--libcpuid=[" "$TMP/kvmprobe.zsh"
mkdir -p "$TMP/files" && touch "$TMP/files/host-a.json" "$TMP/files/host-b.json"
complete_bash kvmprobe --from "$TMP/files/host-"
expect_got "bash: --from completes file names" "$(printf '%s\n' "$TMP/files/host-a.json" "$TMP/files/host-b.json")"
complete_bash kvmprobe fleet "$TMP/files/host-a"
expect_got "bash: fleet's PATH arguments complete file names" "$TMP/files/host-a.json"

# Nothing drifts: every subcommand of --help, every option of `check --help`.
complete_bash kvmprobe ""
for c in $(sed -n '/^Subcommands:/,$p' <<<"$help" | awk '/^  [a-z]/ {print $1}'); do
  expect_got_has "bash: 'kvmprobe ' offers $c" "$c"
done
kp check --help
complete_bash kvmprobe check -
for o in $(grep -E '^  +-' <<<"$OUT" | sed -E 's/^ +//; s/ .*//' | tr ',' '\n' | grep -E '^-' | sed -E 's/[=:].*//' | sort -u); do
  expect_got_has "bash: 'check -' offers $o" "$o"
done

if command -v zsh >/dev/null; then
  check "zsh -n parses the script" zsh -n "$TMP/kvmprobe.zsh"
  check "zsh: the script starts with #compdef kvmprobe" grep -qx '#compdef kvmprobe' <(head -1 "$TMP/kvmprobe.zsh")
else
  skip_tool "zsh parses the script" zsh zsh
fi
if command -v fish >/dev/null; then
  check "fish -n parses the script" fish -n "$TMP/kvmprobe.fish"
  fish_complete() { GOT=$(fish -c "source $TMP/kvmprobe.fish; complete -C '$1'" 2>&1 | cut -f1 | sort); }
  fish_complete "kvmprobe --format "
  expect_got "fish: '--format ' → the values" "$(printf '%s\n' json prometheus text)"
  fish_complete "kvmprobe driver "
  expect_got "fish: driver's subcommands" "$(printf '%s\n' load status unload)"
  fish_complete "kvmprobe check --di"
  expect_got "fish: 'check --di' → --diff-kernel" "--diff-kernel"
else
  skip_tool "fish parses the script" fish fish
fi

finish
