# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lmcache_loglevel: on the controller, in the Ansible worker; on any other host, the module (plugin_utils/_local.py)."""

from __future__ import annotations

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._local import ModuleOnController


class ActionModule(ModuleOnController):
    pass
