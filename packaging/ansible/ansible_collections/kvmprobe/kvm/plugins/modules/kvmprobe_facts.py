#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kvmprobe developers
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvmprobe_facts
short_description: What Linux KVM's init decides on a host, and the host's snapshot, as facts
version_added: 0.1.0
description:
  - Runs C(kvmprobe check --json) and C(kvmprobe snapshot) on the host and returns the check
    report (document C(kvmprobe.check/1)) and the snapshot (C(kvmprobe.snapshot/2)) as the fact
    C(kvmprobe).
  - With O(from), analyses a recorded snapshot instead (C(kvmprobe --from FILE check --json))
    and returns that snapshot in the current layout (C(kvmprobe --from FILE snapshot)).
  - A refusal by KVM is not a failure of the module, it is the fact's C(exit_code) and
    C(check.verdict) (exit codes 0, 10, 11, 12 and 13 of C(kvmprobe check)). The module fails
    only when kvmprobe fails (bad snapshot file, I/O error, a bug), with kvmprobe's own message.
  - Collecting the live host reads MSRs and needs root (C(become)); see C(man kvmprobe-check).
author:
  - kvmprobe developers (@kvmprobe)
options:
  from:
    description:
      - A snapshot file on the managed host to analyse instead of the host itself.
    type: path
  kernel:
    description:
      - The kernel version whose KVM is modelled (C(kvmprobe profiles)); default the host's own.
    type: str
  snapshot:
    description:
      - Also return the snapshot (C(kvmprobe.snapshot/2)) in the fact.
    type: bool
    default: true
  binary:
    description:
      - The kvmprobe program on the managed host, a path or a name looked up in C(PATH).
    type: str
    default: kvmprobe
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, there is no diff.
  facts:
    support: full
    description: Returns the fact C(kvmprobe).
notes:
  - The field reference of both documents is C(docs/cli.md) and C(docs/snapshot-format.md) of
    kvmprobe, their JSON Schemas are in C(docs/schema/).
seealso:
  - module: kvmprobe.kvm.kvmprobe_enable_vmx
'''

EXAMPLES = r'''
- name: Ask kvmprobe whether KVM would load
  kvmprobe.kvm.kvmprobe_facts:
  become: true

- name: Stop when KVM is not usable
  ansible.builtin.assert:
    that: ansible_facts.kvmprobe.check.verdict.would_load
    fail_msg: "{{ ansible_facts.kvmprobe.check.verdict.reason }}"

- name: Analyse a recorded snapshot for kernel 6.12
  kvmprobe.kvm.kvmprobe_facts:
    from: /var/lib/kvmprobe/host.json
    kernel: "6.12"
    snapshot: false
'''

RETURN = r'''
ansible_facts:
  description: The fact C(kvmprobe).
  returned: always
  type: dict
  contains:
    kvmprobe:
      description: What kvmprobe said.
      type: dict
      contains:
        check:
          description: The C(kvmprobe.check/1) document (verdict, steps).
          type: dict
        exit_code:
          description: The exit code of C(kvmprobe check) (0 usable or would load, 10 no VMX/SVM,
            11 disabled by firmware, 12 refused for another reason, 13 cannot tell).
          type: int
        snapshot:
          description: The C(kvmprobe.snapshot/2) document; absent when O(snapshot=false).
          type: dict
exit_code:
  description: The exit code of C(kvmprobe check) (named so, not C(rc), because a refusal is not
    a failure of the module).
  returned: always
  type: int
  sample: 13
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kvmprobe.kvm.plugins.module_utils import kvmprobe

# The verdicts of `kvmprobe check` (cli/exit_codes.h): an answer, not a failure.
CHECK_VERDICTS = (0, 10, 11, 12, 13)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type='str', default='kvmprobe'),
            kernel=dict(type='str'),
            snapshot=dict(type='bool', default=True),
            **{'from': dict(type='path')}
        ),
        supports_check_mode=True,
    )
    args = kvmprobe.global_args(module) + ['check', '--json']
    rc, doc, out, err = kvmprobe.run(module, args)
    if rc not in CHECK_VERDICTS or not isinstance(doc, dict) or doc.get('schema') != 'kvmprobe.check/1':
        kvmprobe.fail(module, args, rc, doc, out, err)
    fact = dict(check=doc, exit_code=rc)
    if module.params['snapshot']:
        sargs = kvmprobe.global_args(module, kernel=False) + ['snapshot']
        src, sdoc, sout, serr = kvmprobe.run(module, sargs)
        if src != 0 or not isinstance(sdoc, dict):
            kvmprobe.fail(module, sargs, src, sdoc, sout, serr)
        fact['snapshot'] = sdoc
    module.exit_json(changed=False, exit_code=rc, ansible_facts=dict(kvmprobe=fact))


if __name__ == '__main__':
    main()
