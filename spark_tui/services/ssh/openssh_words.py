"""Values written the way OpenSSH reads them back, for ``-o`` options and config lines.

Kept apart from ``ssh_config`` (which needs asyncssh's config parser) so starting an OpenSSH
master imports nothing heavy: a copy can start its master before asyncssh has loaded.
"""

from __future__ import annotations


def openssh_word(text: str, *, tokens: bool = True) -> str:
    """A value as OpenSSH reads it back unchanged, in a config line or an ``-o`` option.

    ``%`` becomes ``%%`` where OpenSSH expands tokens (``HostName``, ``IdentityFile``,
    ``UserKnownHostsFile``...); a value with a space, quote, backslash or ``#`` is double-quoted
    with ``\\`` and ``\"`` escaped, which OpenSSH's own word splitter undoes (checked with ``ssh -G``).
    """
    if tokens:
        text = text.replace("%", "%%")
    if text and not any(c.isspace() or c in "\"'\\#" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def host_pattern(host: str, port: int) -> str:
    """How OpenSSH names ``host:port`` in known_hosts: ``host`` for 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"
