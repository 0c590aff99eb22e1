"""Addon options: declared in load(), checked in configure(), refused with a sentence an operator acts on."""

from __future__ import annotations

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from addons import default_addons
from addons.dlp import DlpAddon
from addons.identity import ProxyIdentity
from addons.reload import PolicyReloader
from llm_dlp.identity import hash_password
from llm_dlp.testing.proxyrun import REPO


def test_an_unknown_vault_is_refused_and_the_previous_one_stays(pipeline, endpoints, audit):
    addon = DlpAddon(pipeline, endpoints, audit)
    before = addon.restorer
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match="use memory, file:PATH or redis://HOST:PORT/DB"):
            tctx.configure(addon, llm_dlp_vault="ftp://vault.example")
        with pytest.raises(exceptions.OptionsError, match="more than 0 seconds"):
            tctx.configure(addon, llm_dlp_vault_ttl=0.0)
        assert addon.restorer is before
        assert tctx.options.llm_dlp_vault == "memory"  # rolled back


def test_a_file_vault_is_opened_from_the_option(pipeline, endpoints, audit, tmp_path):
    addon = DlpAddon(pipeline, endpoints, audit)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, llm_dlp_vault=f"file:{tmp_path / 'vault.sqlite'}", llm_dlp_vault_ttl=60.0)
        assert addon.restorer.vault.ttl_seconds == 60.0
    addon.done()
    assert (tmp_path / "vault.sqlite").exists()


def test_refusing_clients_without_credentials_needs_a_users_file():
    addon = ProxyIdentity()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match="needs a users file"):
            tctx.configure(addon, llm_dlp_unauthenticated="reject")
        with pytest.raises(exceptions.OptionsError, match="use default .* or reject"):
            tctx.configure(addon, llm_dlp_unauthenticated="sometimes")


def test_a_broken_users_file_is_refused_with_its_path_and_key(tmp_path):
    users = tmp_path / "users.yaml"
    users.write_text("users:\n  alice:\n    password: hunter2\n")
    addon = ProxyIdentity()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match=r"users\.alice\.password: not a bcrypt hash"):
            tctx.configure(addon, llm_dlp_users_file=str(users))
        assert addon.users is None
        users.write_text(f"users:\n  alice:\n    password: '{hash_password('s3cret')}'\n    groups: [eng]\n")
        tctx.configure(addon, llm_dlp_users_file=str(users), llm_dlp_unauthenticated="reject")
        assert addon.users.check("alice", "s3cret").groups == ("eng",) and addon.require_auth


def test_the_reload_interval_must_be_positive(pipeline):
    addon = PolicyReloader(pipeline, REPO / "policies", lambda path: pipeline.policies)
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match="more than 0"):
            tctx.configure(addon, llm_dlp_reload_interval=0.0)
        tctx.configure(addon, llm_dlp_reload_interval=0.5)
    assert addon.interval == 0.5


def test_default_addons_declare_every_llm_dlp_option(pipeline, endpoints, audit, tmp_path):
    from llm_dlp.proxy import ProxyConfig, ProxyCore

    core = ProxyCore(ProxyConfig(), pipeline, endpoints, audit, lambda path: pipeline.policies, ca=None)  # type: ignore[arg-type]
    with taddons.context(*default_addons(core)) as tctx:
        declared = {name for name in tctx.options.keys() if name.startswith("llm_dlp_")}
    assert declared == {"llm_dlp_users_file", "llm_dlp_unauthenticated", "llm_dlp_reload_interval",
                        "llm_dlp_vault", "llm_dlp_vault_ttl", "llm_dlp_admin_listen"}


def test_the_admin_listener_opens_only_a_valid_address_and_serves_metrics(pipeline, endpoints, audit):
    import urllib.request

    from addons.admin import AdminListener
    from addons.dlp import DlpAddon
    from llm_dlp.proxy import ProxyConfig, ProxyCore
    from llm_dlp.testing.proxyrun import free_port

    core = ProxyCore(ProxyConfig(), pipeline, endpoints, audit, lambda path: pipeline.policies, ca=None)  # type: ignore[arg-type]
    dlp = DlpAddon(pipeline, endpoints, audit)
    admin = AdminListener(core, dlp)
    with taddons.context(dlp, admin) as tctx:
        assert admin.server is None  # off unless asked
        with pytest.raises(exceptions.OptionsError, match="HOST:PORT"):
            tctx.configure(admin, llm_dlp_admin_listen="9464")
        port = free_port()
        tctx.configure(admin, llm_dlp_admin_listen=f"127.0.0.1:{port}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
            assert b"llm_dlp_audit_write_failures_total 0.0" in answer.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as answer:
            assert answer.status == 200
        admin.done()
    assert admin.server is None
