# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one place this collection's module_utils read a private name of ansible-core; tested on every supported line
(tests/unit/plugins/module_utils/test_compat.py). A new ansible-core that renames it breaks that test, not a task.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t


def no_log_values(validated: t.Any) -> t.Set[str]:
    """The values of no_log options an ArgumentSpecValidator result found (AnsibleModule masks the same ones), as a
    set; ansible-core keeps them in ValidationResult._no_log_values and offers no public reader."""
    return set(getattr(validated, '_no_log_values'))
