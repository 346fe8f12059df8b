"""SSH to a device: the shared connection, host-key trust, key onboarding, OpenSSH config, probes.

Other layers import from here only; the modules behind this face are private to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_tui.services.lazy_face import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "ConnectionService": "connection",
    "dial": "connection",
    "load_identity": "login_options",
    "translate_error": "connection",
    "add_device": "device_setup",
    "KnownHosts": "known_hosts",
    "fingerprint": "known_hosts",
    "host_pattern": "openssh_words",
    "write_private_file": "known_hosts",
    "trust_device": "trust",
    "TrustOutcome": "trust",
    "onboard": "onboarding",
    "revoke": "onboarding",
    "OpenSSHMaster": "openssh_mux",
    "MuxError": "openssh_mux",
    "MuxRefused": "openssh_mux",
    "MuxSession": "openssh_mux",
    "Prober": "probe",
    "probe_ssh": "probe",
    "ExportSettings": "ssh_config",
    "render_config": "ssh_config",
    "parse_jump": "ssh_config",
    "openssh_word": "openssh_words",
    "proxy_command": "ssh_config",
    "jump_hops": "ssh_config",
    "default_sources": "ssh_config",
    "host_aliases": "ssh_config",
    "imported_profile": "ssh_config",
    "resolve_config": "ssh_import",
    "openssh_trust": "ssh_import",
    "adopt_trust": "ssh_import",
})

if TYPE_CHECKING:
    from spark_tui.services.ssh.connection import ConnectionService, dial, translate_error
    from spark_tui.services.ssh.login_options import load_identity
    from spark_tui.services.ssh.device_setup import add_device
    from spark_tui.services.ssh.known_hosts import KnownHosts, fingerprint, write_private_file
    from spark_tui.services.ssh.onboarding import onboard, revoke
    from spark_tui.services.ssh.ssh_import import adopt_trust, openssh_trust, resolve_config
    from spark_tui.services.ssh.trust import TrustOutcome, trust_device
    from spark_tui.services.ssh.openssh_mux import MuxError, MuxRefused, MuxSession, OpenSSHMaster
    from spark_tui.services.ssh.probe import Prober, probe_ssh
    from spark_tui.services.ssh.openssh_words import host_pattern, openssh_word
    from spark_tui.services.ssh.ssh_config import (
        ExportSettings, default_sources, host_aliases, imported_profile, jump_hops, parse_jump,
        proxy_command, render_config,
    )
