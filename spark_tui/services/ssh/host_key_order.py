"""Which host key algorithms to offer a device, in the order OpenSSH offers them.

OpenSSH's client (9.x) offers certificates, then ed25519, ecdsa and rsa, and moves the types it
already has a key for (in any known_hosts line matching the host) to the front, so a host first
met with ed25519 keeps being checked with ed25519. asyncssh on its own offers RSA first on a
first contact, so the fingerprint shown for review would not be the one SECURITY.md tells users
to compare (``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub``).

Certificate algorithms are offered only when a ``@cert-authority`` line covers the host: asyncssh
cannot fall back from an untrusted certificate to its plain key as OpenSSH does, so without a CA
we ask for the plain key.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncssh

# ``ssh -Q HostKeyAlgorithms`` order of OpenSSH 9.2's default HostKeyAlgorithms (ssh -G shows it).
OPENSSH_CERT_ALGS = (
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
)
OPENSSH_KEY_ALGS = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-256",
)


def key_type(algorithm: str) -> str:
    """The key type an algorithm signs with: ``rsa-sha2-512-cert-v01@openssh.com`` -> ``ssh-rsa``."""
    plain = algorithm.replace("-cert-v01@openssh.com", "")
    if plain.startswith("rsa-sha2-") or plain == "ssh-rsa":
        return "ssh-rsa"
    return plain


def host_key_algorithms(known_types: Iterable[str], *, with_certificates: bool) -> list[str]:
    """OpenSSH's default order, types already known for the host first.

    Args:
        known_types: Key types (``ssh-ed25519``, ``ssh-rsa``...) of the keys trusted for the
            host (``@revoked`` lines do not count, as in OpenSSH: with only a revoked ed25519 key
            known, the default order still meets that key first and the connection is refused).
        with_certificates: A ``@cert-authority`` line covers the host.

    Returns:
        Algorithm names asyncssh supports, best first.
    """
    supported = {alg.decode() for alg in asyncssh.public_key.get_public_key_algs()}
    supported |= {alg.decode() for alg in asyncssh.public_key.get_certificate_algs()}
    defaults = (OPENSSH_CERT_ALGS if with_certificates else ()) + OPENSSH_KEY_ALGS
    offered = [alg for alg in defaults if alg in supported]
    known = {key_type(t) for t in known_types}
    first = [alg for alg in offered if key_type(alg) in known or (with_certificates and alg in OPENSSH_CERT_ALGS)]
    return first + [alg for alg in offered if alg not in first]
