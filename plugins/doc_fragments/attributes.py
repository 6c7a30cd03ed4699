# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Attributes shared by all modules.
    DOCUMENTATION = r'''
attributes:
  action_group:
    description: Use C(group/lmcache.kvcache.lmcache) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - lmcache.kvcache.lmcache
'''

    # For modules that only read.
    INFO_MODULE = r'''
attributes:
  check_mode:
    description: This module only reads, so it runs normally in check mode.
    support: full
  diff_mode:
    description: This module changes nothing, so it has no diff.
    support: N/A
  idempotent:
    description: This module only reads.
    support: full
'''
