# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TLS for real: a genuine LMCache 0.5.6 node behind nginx (Debian's package) on loopback, with a CA made here.

Verification is on by default; a wrong CA fails clearly; ca_path works; mutual TLS works and is refused without the
client certificate; CA bundles named in the environment for other tools change none of it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from ansible_collections.lmcache.kvcache.scripts.fleet import Fleet, free_port

NGINX = shutil.which('nginx') or '/usr/sbin/nginx'
pytestmark = pytest.mark.skipif(not os.path.exists(NGINX), reason='nginx is not installed (tests/stages.sh installs it as root)')


def openssl(*args, cwd):
    subprocess.run(['openssl'] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(directory):
    """A CA, a server certificate for 127.0.0.1 and localhost, a client certificate, and an unrelated CA."""
    for name in ('ca', 'other-ca'):
        openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=%s' % name,
                '-keyout', '%s.key' % name, '-out', '%s.pem' % name, cwd=directory)
    with open(os.path.join(directory, 'san.ext'), 'w') as handle:
        handle.write('subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    for name, extension in (('server', ['-extfile', 'san.ext']), ('client', [])):
        openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=%s' % name, '-keyout', '%s.key' % name,
                '-out', '%s.csr' % name, cwd=directory)
        openssl('x509', '-req', '-in', '%s.csr' % name, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
                '-out', '%s.pem' % name, *extension, cwd=directory)
    with open(os.path.join(directory, 'client-bundle.pem'), 'w') as bundle:
        for name in ('client.pem', 'client.key'):
            with open(os.path.join(directory, name)) as part:
                bundle.write(part.read())


NGINX_CONF = '''
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.key;
        location / {{ proxy_pass {upstream}; }}
    }}
    server {{
        listen 127.0.0.1:{mtls_port} ssl;
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.key;
        ssl_client_certificate {dir}/ca.pem;
        ssl_verify_client on;
        location / {{ proxy_pass {upstream}; }}
    }}
}}
'''


@pytest.fixture(scope='module')
def tls(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp('tls'))
    os.makedirs(os.path.join(directory, 'tmp'))
    make_pki(directory)
    fleet = Fleet(os.path.join(directory, 'fleet'))
    os.makedirs(fleet.workdir)
    node = fleet.add('tls-node', '0.5.6')
    with fleet:
        node.fill(1)
        ports = dict(tls_port=free_port(), mtls_port=free_port())
        with open(os.path.join(directory, 'nginx.conf'), 'w') as handle:
            handle.write(NGINX_CONF.format(dir=directory, upstream=node.url, **ports))
        process = subprocess.Popen([NGINX, '-p', directory, '-c', os.path.join(directory, 'nginx.conf')],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 20
            while subprocess.run(['openssl', 's_client', '-connect', '127.0.0.1:%d' % ports['tls_port']],
                                 input=b'', stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode != 0:
                assert time.monotonic() < deadline and process.poll() is None, open(os.path.join(directory, 'error.log')).read()
                time.sleep(0.2)
            yield dict(dir=directory, url='https://127.0.0.1:%d' % ports['tls_port'],
                       mtls_url='https://127.0.0.1:%d' % ports['mtls_port'], node=node)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)


def pem(tls, name):
    return os.path.join(tls['dir'], name)


def test_verification_is_on_by_default(tls, ansible):
    run = ansible.adhoc('lmcache_server_info', {'url': tls['url'], 'retries': 0})
    assert run.outcome() == 'failed'
    assert 'TLS error: the server certificate could not be verified (unable to get local issuer certificate); set ca_path' \
        in run.result()['msg']


def test_a_wrong_ca_fails_clearly(tls, ansible):
    run = ansible.adhoc('lmcache_server_info', {'url': tls['url'], 'ca_path': pem(tls, 'other-ca.pem'), 'retries': 0})
    assert run.outcome() == 'failed' and 'could not be verified' in run.result()['msg']


@pytest.mark.parametrize('environment', [{}, {'REQUESTS_CA_BUNDLE': 'OTHER', 'CURL_CA_BUNDLE': 'OTHER', 'SSL_CERT_FILE': 'OTHER'}],
                         ids=['plain', 'with CA bundles in the environment'])
def test_ca_path_works_whatever_the_environment_says(tls, ansible, environment):
    env = dict((k, pem(tls, 'other-ca.pem')) for k in environment)
    run = ansible.adhoc('lmcache_kvcache_clear', {'url': tls['url'], 'ca_path': pem(tls, 'ca.pem')}, '--check', env=env)
    assert run.returncode == 0, run.output
    assert run.result()['changed'] is True and run.result()['api_generation'] == 'G3'
    assert tls['node'].l1_objects() == 2


def test_validate_certs_false_skips_verification_even_with_a_bundle_in_the_environment(tls, ansible):
    run = ansible.adhoc('lmcache_server_info', {'url': tls['url'], 'validate_certs': False},
                        env={'REQUESTS_CA_BUNDLE': pem(tls, 'other-ca.pem')})
    assert run.returncode == 0, run.output


def test_mutual_tls_works_and_is_refused_without_the_client_certificate(tls, ansible):
    args = {'url': tls['mtls_url'], 'ca_path': pem(tls, 'ca.pem'), 'retries': 0}
    refused = ansible.adhoc('lmcache_server_info', args)
    assert refused.outcome() == 'failed'
    assert 'HTTP 400 Bad Request: 400 No required SSL certificate was sent' in refused.result()['msg']
    separate = ansible.adhoc('lmcache_server_info', dict(args, client_cert=pem(tls, 'client.pem'), client_key=pem(tls, 'client.key')))
    assert separate.returncode == 0, separate.output
    bundled = ansible.adhoc('lmcache_kvcache_clear', dict(args, client_cert=pem(tls, 'client-bundle.pem')))
    assert bundled.returncode == 0 and bundled.result()['changed'] is True and tls['node'].l1_objects() == 0


def test_a_client_key_that_does_not_match_fails_before_any_request(tls, ansible):
    run = ansible.adhoc('lmcache_server_info', {'url': tls['mtls_url'], 'ca_path': pem(tls, 'ca.pem'),
                                                'client_cert': pem(tls, 'client.pem'), 'client_key': pem(tls, 'server.key')})
    assert run.outcome() == 'failed' and 'cannot be loaded' in run.result()['msg']
