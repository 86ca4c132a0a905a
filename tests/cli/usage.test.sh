#!/usr/bin/env bash
# Command-line parsing: --help/--version exit 0; every usage error exits 2 with exactly one
# "kvmprobe: error:" line on stderr (plus at most a hint) and nothing on stdout.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

COMMANDS=(check snapshot import xcr0 tsc vmx-caps profiles msrs)

# --- help and version --------------------------------------------------------------------
kp --help
expect_rc 0 "--help exits 0"
expect_out_has "Usage:" "--help prints usage on stdout"
for c in "${COMMANDS[@]}"; do
  expect_out_has "  $c " "--help lists the '$c' command"
done
expect_err_empty "--help writes nothing on stderr"

kp -h
expect_rc 0 "-h exits 0"

kp --version
expect_rc 0 "--version exits 0"
check "--version prints 'kvmprobe X.Y.Z'" grep -qE '^kvmprobe [0-9]+\.[0-9]+\.[0-9]+' <<<"$OUT"

for c in "${COMMANDS[@]}"; do
  kp "$c" --help
  expect_rc 0 "$c --help exits 0"
  expect_out_has "Usage: kvmprobe $c" "$c --help shows its usage"
done

# --- no command, unknown command, unknown option ------------------------------------------
kp
expect_rc 2 "no command: exit 2"
expect_one_error_line "no command: one error line"
expect_out_empty "no command: nothing on stdout"

kp bogus
expect_rc 2 "unknown command: exit 2"
expect_one_error_line "unknown command: one error line"
expect_out_empty "unknown command: nothing on stdout"
# The line must name what was wrong: "A subcommand is required" for a mistyped command
# sends the user looking in the wrong place.
expect_err_has "bogus" "unknown command: the error names 'bogus'"

kp chekc --from "$AMD_OK"
expect_rc 2 "misspelt command: exit 2"
expect_err_has "chekc" "misspelt command: the error names 'chekc'"

kp --bogus check --from "$AMD_OK" --kernel 6.1
expect_rc 2 "unknown global option: exit 2"
expect_one_error_line "unknown global option: one error line"
expect_err_has "--bogus" "unknown global option: the error names it"
expect_out_empty "unknown global option: nothing on stdout"

for c in "${COMMANDS[@]}"; do
  kp "$c" --no-such-option --from "$AMD_OK" --kernel 6.1
  expect_rc 2 "$c --no-such-option: exit 2"
  expect_one_error_line "$c --no-such-option: one error line"
  expect_out_empty "$c --no-such-option: nothing on stdout"
done

kp check extra-positional --from "$AMD_OK" --kernel 6.1
expect_rc 2 "stray positional argument: exit 2"
expect_one_error_line "stray positional argument: one error line"

kp check --from
expect_rc 2 "--from without a value: exit 2"
expect_one_error_line "--from without a value: one error line"

# --- option values -------------------------------------------------------------------------
kp --json=xyz check --from "$AMD_OK" --kernel 6.1
expect_rc 2 "--json=xyz: exit 2"
expect_one_error_line "--json=xyz: one error line"
expect_err_has "--json" "--json=xyz: the error names --json"
expect_out_empty "--json=xyz: nothing on stdout"

kp check --from "$AMD_OK" --kernel 6.1 --json=xyz
expect_rc 2 "--json=xyz after the command: exit 2"

kp profiles --json=help
expect_rc 2 "--json=help: exit 2"
check "--json=help names pretty, short and off" \
  bash -c 'grep -q pretty <<<"$1" && grep -q short <<<"$1" && grep -q off <<<"$1"' _ "$OUT$ERR"

kp --color=sometimes profiles
expect_rc 2 "--color=sometimes: exit 2"
expect_one_error_line "--color=sometimes: one error line"

kp --backend=magic profiles
expect_rc 2 "--backend=magic: exit 2"
expect_one_error_line "--backend=magic: one error line"

for bad in garbage kvm_amd.nested 'kvm_amd=0' '=0' 'kvm_amd.nested'; do
  kp check --from "$AMD_OK" --kernel 6.1 --param "$bad"
  expect_rc 2 "--param '$bad': exit 2"
  expect_one_error_line "--param '$bad': one error line"
  expect_err_has "$bad" "--param '$bad': the error quotes the item"
  expect_out_empty "--param '$bad': nothing on stdout"
done

kp check --from "$AMD_OK" --kernel 6.1 --param garbage --json=short
expect_json_error 2 "--param garbage --json"

for bad in 3.10 2.6.32 banana '' 6 'v6.1'; do
  kp check --from "$AMD_OK" --kernel "$bad"
  if [[ -z $bad ]]; then
    # An empty --kernel means "not given": the snapshot has no kernel, so it is still a usage error.
    expect_rc 2 "--kernel '': exit 2 (the snapshot names no kernel)"
    continue
  fi
  case $bad in
    3.10 | 2.6.32 | banana)
      expect_rc 2 "--kernel $bad: exit 2"
      expect_one_error_line "--kernel $bad: one error line"
      expect_err_has "$bad" "--kernel $bad: the error quotes it"
      expect_out_empty "--kernel $bad: nothing on stdout"
      ;;
    *)
      # Odd spellings: a major alone or a "v" prefix is no version (uname -r never prints one).
      expect_rc 2 "--kernel '$bad': exit 2"
      expect_err_has "'$bad' is not a kernel version" "--kernel '$bad': the error says it is not a kernel version"
      expect_out_empty "--kernel '$bad': nothing on stdout"
      ;;
  esac
done
# A 6.1 release candidate is older than 6.1.0 final: the profile read from v6.1-rc7 (6.1.0), not
# Debian's 6.1 with the 6.1.y backports.
kp check --from "$AMD_OK" --kernel 6.1.0-rc --json=short
expect_rc 0 "--kernel 6.1.0-rc: exit 0 (kvm_amd would load)"
expect_json "--kernel 6.1.0-rc: profile 6.1.0 chosen, and the note says from what" \
  "d['kernel']['profile'] == '6.1.0' and d['kernel']['profile_note'] == 'kernel 6.1.0-rc: profile 6.1.0 (read from 6.1.0)'"
kp check --from "$AMD_OK" --kernel 6.1.0-56-amd64 --json=short
expect_json "--kernel 6.1.0-56-amd64 (Debian 12's release): profile 6.1" "d['kernel']['profile'] == '6.1'"
kp check --from "$AMD_OK" --kernel 3.10
expect_err_has "4.19" "--kernel 3.10: the error names the oldest profile"

kp check --from "$AMD_OK" --kernel banana --json
expect_json_error 2 "--kernel banana --json"

# A snapshot that does not say which kernel it came from needs --kernel.
kp check --from "$AMD_OK"
expect_rc 2 "snapshot without a kernel and no --kernel: exit 2"
expect_one_error_line "snapshot without a kernel: one error line"
expect_err_has "--kernel" "snapshot without a kernel: the hint names --kernel"

kp tsc --from "$INTEL_OK" --kernel 6.1 --guest-khz 0
expect_rc 2 "tsc --guest-khz 0: exit 2"
expect_one_error_line "tsc --guest-khz 0: one error line"
kp tsc --from "$INTEL_OK" --kernel 6.1 --guest-khz lots
expect_rc 2 "tsc --guest-khz lots: exit 2"
kp tsc --from "$INTEL_OK" --kernel 6.1 --guest-khz 99999999999
expect_rc 2 "tsc --guest-khz beyond 32 bits: exit 2"

kp import
expect_rc 2 "import without a dump: exit 2"
expect_one_error_line "import without a dump: one error line"
kp import --libcpuid a --aida64 b
expect_rc 2 "import --libcpuid with --aida64: exit 2"
expect_one_error_line "import --libcpuid with --aida64: one error line"

kp msrs --from "$AMD_OK" --kernel 6.1 --save-list --feature-list
expect_rc 2 "msrs --save-list --feature-list: exit 2"
expect_one_error_line "msrs --save-list --feature-list: one error line"
kp msrs --from "$AMD_OK" --kernel 6.1 --save-list --compare-kvm
expect_rc 2 "msrs --save-list --compare-kvm: exit 2"
kp msrs --from "$AMD_OK" --kernel 6.1 --assume-rdmsr=maybe
expect_rc 2 "msrs --assume-rdmsr=maybe: exit 2"

# Options are accepted before and after the command name, with the same result.
kp --json=short --kernel 6.1 --from "$AMD_SVMDIS" check
before=$OUT rc_before=$RC
kp check --json=short --kernel 6.1 --from "$AMD_SVMDIS"
check "global options before and after the command give the same output" test "$before" == "$OUT"
check "global options before and after the command give the same exit ($rc_before, $RC)" test "$rc_before" -eq "$RC"

finish
