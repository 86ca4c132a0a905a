#!/usr/bin/env bash
# The man pages: one per subcommand plus kvmprobe(1); valid roff without warnings; every
# option the binary accepts is documented; every exit code of cli/exit_codes.h is in
# EXIT STATUS; every environment variable the code reads is in ENVIRONMENT.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

MAN=$SRC/man

# Subcommands as the binary lists them in --help.
kp --help
mapfile -t COMMANDS < <(sed -n '/^Subcommands:/,$p' <<<"$OUT" | awk '/^  [a-z]/ {print $1}')
check "--help lists subcommands (${COMMANDS[*]})" test "${#COMMANDS[@]}" -ge 8

# render PAGE: the page as plain text (no overstrikes), one long line per paragraph.
have_groff=0
command -v groff >/dev/null && have_groff=1
render() { groff -man -Tascii -P-cbou -rLL=400n "$1" 2>/dev/null; }

check "man/kvmprobe.1 exists" test -f "$MAN/kvmprobe.1"
for c in "${COMMANDS[@]}"; do
  check "man/kvmprobe-$c.1 exists" test -f "$MAN/kvmprobe-$c.1"
done

if [[ $have_groff -eq 0 ]]; then
  skip_tool "man pages render without warnings" groff groff-base
  finish
fi

for page in "$MAN"/*.1; do
  n=$(basename "$page")
  warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  if [[ -z $warnings ]]; then pass "$n: groff -ww gives no warnings"; else
    fail "$n: groff -ww gives no warnings" "$(head -3 <<<"$warnings")"; fi
  text=$(render "$page")
  for section in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" "SEE ALSO"; do
    check "$n: has a $section section" grep -q "^$section" <<<"$text"
  done
  if command -v man >/dev/null; then
    mw=$(MANWIDTH=80 man -l "$page" 2>&1 >/dev/null)
    if [[ -z $mw ]]; then pass "$n: man -l renders it without complaint"; else
      fail "$n: man -l renders it without complaint" "$(head -3 <<<"$mw")"; fi
  fi
done

# Long and short options in a --help text, one per line ("--json", "-q").
options_of() {
  grep -E '^  +-' <<<"$1" | sed -E 's/^ +//; s/ .*//' | tr ',' '\n' | grep -E '^-' | sed -E 's/[=:].*//' | sort -u
}

main_text=$(render "$MAN/kvmprobe.1")
kp --help
for opt in $(options_of "$OUT"); do
  check "kvmprobe(1) documents the global option $opt" grep -qE -- "(^|[^-a-z])$opt([^-a-z]|$)" <<<"$main_text"
done
for c in "${COMMANDS[@]}"; do
  check "kvmprobe(1) has a section for '$c'" grep -qE "^ +kvmprobe $c\$" <<<"$main_text"
  check "kvmprobe(1) SYNOPSIS shows '$c'" grep -qE "^ +kvmprobe $c( |\$)" <<<"$main_text"
  [[ -f $MAN/kvmprobe-$c.1 ]] || continue
  page_text=$(render "$MAN/kvmprobe-$c.1")
  kp "$c" --help
  for opt in $(options_of "$OUT"); do
    [[ $opt == -h || $opt == --help ]] && continue
    check "kvmprobe-$c(1) documents $opt" grep -qE -- "(^|[^-a-z])$opt([^-a-z]|$)" <<<"$page_text"
  done
  check "kvmprobe-$c(1) refers to kvmprobe(1) for the global options" grep -q "kvmprobe(1)" <<<"$page_text"
  check "kvmprobe(1) SEE ALSO names kvmprobe-$c(1)" grep -q "kvmprobe-$c(1)" <<<"$main_text"
done

# EXIT STATUS lists every code of cli/exit_codes.h.
exit_status=$(sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p' <<<"$main_text")
codes=$(grep -oE '= *[0-9]+, *///' "$SRC/cli/exit_codes.h" | grep -oE '[0-9]+')
check "cli/exit_codes.h has exit codes to check ($(tr '\n' ' ' <<<"$codes"))" test -n "$codes"
for code in $codes; do
  check "kvmprobe(1) EXIT STATUS documents $code" grep -qE "^ +$code( |\$)" <<<"$exit_status"
done

# ENVIRONMENT documents every variable the code reads.
env_section=$(sed -n '/^ENVIRONMENT/,/^FILES/p' <<<"$main_text")
for var in $(grep -rhoE 'getenv\("[A-Za-z_]+"\)' "$SRC/cli" "$SRC/core" | grep -oE '"[A-Za-z_]+"' | tr -d '"' | sort -u); do
  check "kvmprobe(1) ENVIRONMENT documents $var" grep -qE "^ +$var" <<<"$env_section"
done
check "kvmprobe(1) does not document the test-only KVMPROBE_SHARED_DATA" \
  bash -c '! grep -q KVMPROBE_SHARED_DATA <<<"$1"' _ "$main_text"
for f in /dev/cpu/N/msr /dev/cpu/N/cpuid /dev/kvm /dev/kvmprobe /etc/modprobe.d; do
  check "kvmprobe(1) FILES names $f" grep -qF "$f" <<<"$(sed -n '/^FILES/,/^EXAMPLES/p' <<<"$main_text")"
done
check "kvmprobe(1) SEE ALSO names kvm-ok(1)" grep -q "kvm-ok(1)" <<<"$main_text"

finish
