# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The option of every module that reads a coordinator's registry (plugins/module_utils/_vouching.py).
    DOCUMENTATION = r'''
options:
  networks:
    description:
      - The addresses of the fleet's nodes, which the coordinator's registry may send the API key to. Anything that
        reaches a coordinator can register an instance, at any address, so an address read from its registry is not
        vouched for by being there.
      - A list of CIDR blocks (V(10.0.0.0/8), V(fd00::/8)), single addresses, host names and name patterns. In a
        pattern a leading C(*.) stands for one or more labels (V(*.gpu.example.com)) and any other C(*) for part of
        one label (V(gpu-*.example.com)). Registered host names are compared as registered, never resolved.
      - When set, a registration outside it is left out, with a warning that names the coordinator, the instance and
        the address, and the key goes to the ones inside. When not set, every registration is used but none is sent
        the key; a node that requires one answers 401, and the message names this option.
      - If not set, the value of the E(LMCACHE_NETWORKS) environment variable (entries separated by commas) is used.
    type: list
    elements: str
    version_added: 0.2.0
'''

    # The same option for the controller-side plugins that read it with get_option (the inventory, the lookup).
    PLUGINS = r'''
options:
  networks:
    description:
      - The addresses of the fleet's nodes, which the coordinators' registries may send the API key to. Anything that
        reaches a coordinator can register an instance, at any address, so an address read from its registry is not
        vouched for by being there.
      - A list of CIDR blocks (V(10.0.0.0/8), V(fd00::/8)), single addresses, host names and name patterns. In a
        pattern a leading C(*.) stands for one or more labels (V(*.gpu.example.com)) and any other C(*) for part of
        one label (V(gpu-*.example.com)). Registered host names are compared as registered, never resolved.
      - When set, a registration outside it is left out, and said so once, naming the coordinator, the instance and the
        address; the key goes to the ones inside. When not set, every registration is used but none is sent the key
        (see the collection's security guide).
    type: list
    elements: str
    version_added: 0.2.0
    env:
      - name: LMCACHE_NETWORKS
'''
