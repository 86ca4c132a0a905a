# -*- coding: utf-8 -*-
# Copyright: kvmprobe developers
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
"""Runs kvmprobe for the kvmprobe.kvm modules and turns its errors into module failures."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

ERROR_PREFIX = 'kvmprobe: error: '
HINT_PREFIX = 'kvmprobe: hint: '


def kvmprobe_binary(module):
    """The kvmprobe to run: the 'binary' option, a path or a name looked up in PATH."""
    binary = module.params.get('binary') or 'kvmprobe'
    if '/' in binary:
        return binary
    return module.get_bin_path(binary, required=True)


def global_args(module, kernel=True):
    """kvmprobe's global options from the module's 'from' and 'kernel' options."""
    args = []
    if module.params.get('from'):
        args += ['--from', module.params['from']]
    if kernel and module.params.get('kernel'):
        args += ['--kernel', module.params['kernel']]
    return args


def run(module, args):
    """Runs kvmprobe ARGS; returns (rc, document or None, stdout, stderr)."""
    cmd = [kvmprobe_binary(module)] + args
    rc, out, err = module.run_command(cmd, check_rc=False, environ_update={'KVMPROBE_PAGER': 'cat', 'NO_COLOR': '1'})
    doc = None
    if out.strip():
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
    return rc, doc, out, err


def error_of(rc, doc, err, fallback=''):
    """kvmprobe's own error message and hint: the error line on stderr, else the
    kvmprobe.error/1 document, else FALLBACK (what the command's own document says, e.g. the
    plan's summary of enable-vmx, which reports a refusal without an error line), else stderr."""
    message = hint = ''
    for line in err.splitlines():
        if line.startswith(ERROR_PREFIX) and not message:
            message = line[len(ERROR_PREFIX):]
        elif line.startswith(HINT_PREFIX) and not hint:
            hint = line[len(HINT_PREFIX):]
    if not message and isinstance(doc, dict) and doc.get('schema') == 'kvmprobe.error/1':
        message = doc['error'].get('message', '')
        hint = hint or doc['error'].get('hint', '')
    if not message:
        message = fallback
    if not message:
        message = err.strip() or 'kvmprobe exited with status %d' % rc
    return message, hint


def fail(module, cmd_args, rc, doc, out, err, fallback='', **extra):
    """Fails the module with kvmprobe's message; rc, stdout and stderr are kept in the result."""
    message, hint = error_of(rc, doc, err, fallback)
    module.fail_json(msg=message, hint=hint, rc=rc, cmd=[kvmprobe_binary(module)] + cmd_args, stdout=out, stderr=err, **extra)
