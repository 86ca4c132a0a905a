#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kvmprobe developers
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvmprobe_enable_vmx
short_description: Enable VMX (IA32_FEATURE_CONTROL) or SVM (VM_CR) on every CPU with kvmprobe
version_added: 0.1.0
description:
  - Runs C(kvmprobe enable-vmx --json --yes), which enables and locks VMX on Intel CPUs
    (IA32_FEATURE_CONTROL) or clears VM_CR.SVMDIS on AMD CPUs, on every CPU or on none, with a
    journal of the old values (C(kvmprobe restore)). See C(man kvmprobe-enable-vmx).
  - In check mode it runs C(kvmprobe enable-vmx --dry-run --json) and reports the plan;
    RV(changed) is then whether kvmprobe would write.
  - RV(changed) is true when kvmprobe reports that a CPU's value afterwards differs from its
    value before (C(result.cpus)); a run rolled back (exit 14) changed nothing.
  - Every exit code of kvmprobe other than 0 is a failure with kvmprobe's own error message
    (10 no VMX/SVM, 11 locked off by the firmware, 13 no way to read or write the MSR,
    14 rolled back, 15 partially applied, 16 not permitted, 1 and 3 see the manual).
author:
  - kvmprobe developers (@kvmprobe)
options:
  lock:
    description:
      - Lock IA32_FEATURE_CONTROL after enabling VMX (C(--no-lock) when false). The lock lasts
        until the next reset.
    type: bool
    default: true
  cpus:
    description:
      - Only these CPUs, as a Linux CPU list (C(0-3,8)).
    type: str
  smx:
    description:
      - Also set "VMX inside SMX" (Intel TXT) when the CPU has SMX.
    type: bool
    default: false
  journal:
    description:
      - The journal of old values (kvmprobe's default C(/var/lib/kvmprobe/journal.jsonl)).
    type: path
  from:
    description:
      - Plan from a recorded snapshot. Only in check mode (kvmprobe refuses C(--from) without
        C(--dry-run)).
    type: path
  kernel:
    description:
      - The kernel version whose KVM is modelled in the plan's warnings.
    type: str
  binary:
    description:
      - The kvmprobe program on the managed host, a path or a name looked up in C(PATH).
    type: str
    default: kvmprobe
attributes:
  check_mode:
    support: full
    description: C(kvmprobe enable-vmx --dry-run).
  diff_mode:
    support: none
    description: The plan and the result carry every CPU's old and new value instead.
notes:
  - Needs root (C(become)) and the companion driver C(/dev/kvmprobe) or C(/dev/cpu/N/msr).
seealso:
  - module: kvmprobe.kvm.kvmprobe_facts
'''

EXAMPLES = r'''
- name: Enable and lock VMX where the firmware left it unlocked
  kvmprobe.kvm.kvmprobe_enable_vmx:
  become: true

- name: What would be written, without writing
  kvmprobe.kvm.kvmprobe_enable_vmx:
    lock: false
  check_mode: true
  become: true
'''

RETURN = r'''
plan:
  description: kvmprobe's plan (verdict, summary, remedy, each CPU's action and old and new values).
  returned: when kvmprobe got as far as a plan
  type: dict
result:
  description: The outcome and every write with its status and read-back; null in check mode
    or when nothing was written.
  returned: when kvmprobe got as far as a plan
  type: dict
journal:
  description: The journal written before the first write, or null.
  returned: when kvmprobe got as far as a plan
  type: str
remedy:
  description: On a refusal, what to do (the plan's remedy, e.g. the firmware option to enable).
  returned: when kvmprobe refused with a plan
  type: str
exit_code:
  description: kvmprobe's exit code.
  returned: always
  type: int
  sample: 0
msg:
  description: The plan's summary, or the result's, or kvmprobe's error message.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kvmprobe.kvm.plugins.module_utils import kvmprobe


def changed_by(doc):
    """Did kvmprobe change a CPU's value (result), or would it (the plan, in check mode)."""
    result = doc.get('result')
    if doc.get('dry_run') or result is None:
        return doc.get('dry_run', False) and (doc.get('plan') or {}).get('verdict') == 'apply'
    for cpu in result.get('cpus') or []:
        if cpu.get('value') is not None and cpu.get('value') != cpu.get('old'):
            return True
    return False


def main():
    module = AnsibleModule(
        argument_spec=dict(
            lock=dict(type='bool', default=True),
            cpus=dict(type='str'),
            smx=dict(type='bool', default=False),
            journal=dict(type='path'),
            kernel=dict(type='str'),
            binary=dict(type='str', default='kvmprobe'),
            **{'from': dict(type='path')}
        ),
        supports_check_mode=True,
    )
    args = kvmprobe.global_args(module) + ['enable-vmx', '--json']
    args.append('--dry-run' if module.check_mode else '--yes')
    if not module.params['lock']:
        args.append('--no-lock')
    if module.params['cpus']:
        args += ['--cpus', module.params['cpus']]
    if module.params['smx']:
        args.append('--smx')
    if module.params['journal']:
        args += ['--journal', module.params['journal']]
    rc, doc, out, err = kvmprobe.run(module, args)
    report = {}
    if isinstance(doc, dict) and doc.get('schema') == 'kvmprobe.enable-vmx/1':
        report = dict(plan=doc.get('plan'), result=doc.get('result'), journal=doc.get('journal'),
                      dry_run=doc.get('dry_run'))
    summary = ''
    if report:
        summary = (doc.get('result') or {}).get('summary') or (doc.get('plan') or {}).get('summary') or ''
        # The plan's remedy (firmware setup, power cycle) is the hint of a refusal.
        if rc != 0 and (doc.get('plan') or {}).get('remedy'):
            report['remedy'] = doc['plan']['remedy']
    if rc != 0:
        kvmprobe.fail(module, args, rc, doc, out, err, fallback=summary, exit_code=rc,
                      changed=bool(report) and changed_by(doc), **report)
    if not report:
        kvmprobe.fail(module, args, rc, doc, out, err, exit_code=rc)
    module.exit_json(changed=changed_by(doc), exit_code=rc, msg=summary, **report)


if __name__ == '__main__':
    main()
