"""Importing ``~/.ssh/config`` hosts by letting OpenSSH resolve them (``ssh -G -F FILE ALIAS``).

A parser of our own keeps disagreeing with OpenSSH (Include order, Match, tokens, first value
wins), so where an ``ssh`` client is installed each alias is resolved by OpenSSH itself and only
the list of aliases is read here: the concrete names on ``Host`` lines of the file and of every
file it ``Include``s (globs expanded in sorted order, relative paths against ``~/.ssh``), patterns
skipped. Without ``ssh`` the asyncssh parser (``ssh_config.imported_profile``) is the fallback.

A host whose options spark-tui cannot honour is not imported; the reason names the directive.
The keys OpenSSH already trusts for a host (its ``UserKnownHostsFile``/``GlobalKnownHostsFile``
as ``ssh -G`` reports them, hashed and marked lines included) are returned for the caller to offer.
"""

from __future__ import annotations

import getpass
import glob
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from spark_tui.core.errors import ConfigError
from spark_tui.core.models import DeviceProfile
from spark_tui.core.untrusted import display_safe
from spark_tui.services.ssh.known_hosts import KnownHostEntry, KnownHosts, host_pattern, write_private_file
from spark_tui.services.ssh.ssh_config import SYNC_TAG, imported_profile, is_sync_config

MAX_INCLUDE_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH
RESOLVE_TIMEOUT = 20.0  # seconds for one ``ssh -G`` (a Match exec may run a command)
PROXY_TOKENS = set("hprn%")


def ssh_home() -> Path:
    """The home folder OpenSSH uses for ``~`` (the password database's, not ``$HOME``)."""
    try:
        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:  # pragma: no cover - a uid without an entry
        return Path.home()


def _local_user() -> str:
    """The login name OpenSSH uses by default (the password database's)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # pragma: no cover
        return getpass.getuser()


def _words(line: str) -> list[str]:
    """A config line's words as OpenSSH splits them (quotes, ``#`` comments, ``key=value``)."""
    line = line.strip()
    match = re.match(r"([A-Za-z]+)\s*=\s*|([A-Za-z]+)\s+", line)
    if match is None:
        return [line] if line and not line.startswith("#") else []
    keyword = match.group(1) or match.group(2)
    lexer = shlex.shlex(line[match.end():], posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return [keyword, *lexer]
    except ValueError:  # unbalanced quote: OpenSSH refuses it too, resolving will say so
        return [keyword]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as error:
        raise ConfigError(str(path), f"cannot read: {error.strerror}", hint="check the path and its permissions") from None


def config_aliases(path: Path, *, _depth: int = 0) -> list[str]:
    """Concrete ``Host`` aliases of ``path`` and of every file it Includes, in reading order.

    Raises:
        ConfigError: ``path`` cannot be read (an Include that matches nothing is skipped, as
            OpenSSH does).
    """
    found: list[str] = []
    for line in _read(path).splitlines():
        words = _words(line)
        if len(words) < 2:
            continue
        keyword = words[0].lower()
        if keyword == "host":
            found += [w for w in words[1:] if not any(c in w for c in "*?!") and w not in found]
        elif keyword == "include" and _depth < MAX_INCLUDE_DEPTH:
            for pattern in words[1:]:
                expanded = os.path.expanduser(pattern) if pattern.startswith("~") else pattern
                if not os.path.isabs(expanded):
                    expanded = str(ssh_home() / ".ssh" / expanded)
                for name in sorted(glob.glob(expanded)):
                    if Path(name).is_file():
                        found += [a for a in config_aliases(Path(name), _depth=_depth + 1) if a not in found]
    return found


def resolve(path: Path, alias: str, ssh: str) -> dict[str, list[str]]:
    """What ``ssh -G -F path alias`` prints, as option -> values (repeated options keep order).

    Raises:
        ConfigError: OpenSSH refuses the file (its own message, which names the line).
    """
    try:
        done = subprocess.run(
            [ssh, "-G", "-F", str(path), "--", alias],
            capture_output=True, stdin=subprocess.DEVNULL, timeout=RESOLVE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(str(path), f"ssh -G {alias} took over {RESOLVE_TIMEOUT:.0f}s (a Match exec?)", hint="") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.decode(errors="replace").splitlines() if "Pseudo-terminal" not in ln]
        named = [ln.removeprefix(f"{path} ") for ln in lines if ln.startswith(f"{path} line ")]  # the line at fault
        message = (named or lines or [f"ssh -G exited with {done.returncode}"])[0]
        raise ConfigError(str(path), display_safe(message, 300),
                          hint="OpenSSH refuses this file; fix it, or import from another with --from")
    values: dict[str, list[str]] = {}
    for line in done.stdout.decode("utf-8", errors="replace").splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key.lower(), []).append(value)
    return values


@dataclass(frozen=True)
class ImportedHost:
    """One alias as OpenSSH resolved it.

    Attributes:
        alias: The ``Host`` name.
        profile: The device to save, or ``None`` when it cannot be represented.
        skipped: Why not, naming the directive (empty when imported).
        hops: Aliases of this file that its ProxyJump goes through (to import with it).
        known_hosts: OpenSSH's known_hosts files for it (user's, then global), as ``ssh -G`` says.
    """

    alias: str
    profile: DeviceProfile | None
    skipped: str = ""
    hops: tuple[str, ...] = ()
    known_hosts: tuple[Path, ...] = field(default=())


def _first(values: dict[str, list[str]], key: str) -> str:
    return values.get(key, [""])[0]


def _expand_identity(text: str, values: dict[str, list[str]], alias: str) -> str | None:
    """An IdentityFile with OpenSSH's tokens expanded (``None`` when one is not supported)."""
    home = str(ssh_home())
    tokens = {
        "d": home, "h": _first(values, "hostname"), "r": _first(values, "user"), "u": getpass.getuser(),
        "p": _first(values, "port"), "n": alias, "l": socket.gethostname(), "L": socket.gethostname().split(".")[0],
        "i": str(os.getuid()), "%": "%",
    }
    out, i = [], 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text):
            if text[i + 1] not in tokens:
                return None
            out.append(tokens[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _refusal(values: dict[str, list[str]]) -> str:
    """Why spark-tui cannot honour these options, naming the directive ('' when it can)."""
    if _first(values, "proxyusefdpass") == "yes":
        return "ProxyUseFdpass yes: spark-tui cannot take a socket from a proxy command"
    if values.get("certificatefile"):
        return "CertificateFile: spark-tui does not log in with user certificates"
    if _first(values, "pkcs11provider") not in ("", "none"):
        return "PKCS11Provider: spark-tui does not use PKCS#11 tokens"
    if _first(values, "hostkeyalias") not in ("", "none"):
        return "HostKeyAlias: spark-tui keys host keys by the host name"
    command = _first(values, "proxycommand")
    if command not in ("", "none") and _first(values, "proxyjump") in ("", "none"):
        unknown = sorted({m for m in re.findall(r"%(.)", command.replace("%%", "")) if m not in PROXY_TOKENS})
        if unknown:
            return f"ProxyCommand uses %{unknown[0]}, which spark-tui does not expand (only %h %p %r %n %%)"
    return ""


def resolve_host(path: Path, alias: str, aliases: list[str], ssh: str, defaults: list[str]) -> ImportedHost:
    """Resolve one alias with OpenSSH and turn it into a profile, or say why not.

    Args:
        path: The config file.
        alias: The ``Host`` name.
        aliases: Every alias of the file (a ProxyJump hop naming one is imported with it).
        ssh: The ssh program.
        defaults: The IdentityFile list OpenSSH uses when none is set (means "agent / defaults").

    Raises:
        ConfigError: OpenSSH refuses the file.
    """
    values = resolve(path, alias, ssh)
    known = tuple(Path(os.path.expanduser(p)) for key in ("userknownhostsfile", "globalknownhostsfile")
                  for line in values.get(key, []) for p in line.split() if p != "none")
    refusal = _refusal(values)
    if refusal:
        return ImportedHost(alias, None, refusal, known_hosts=known)
    identities: list[str] = []
    raw = values.get("identityfile", [])
    if raw != defaults:
        for text in raw:
            expanded = _expand_identity(text, values, alias)
            if expanded is None:
                return ImportedHost(alias, None, f"IdentityFile {text}: a %-token spark-tui does not expand", known_hosts=known)
            identities.append(expanded)
    jump = _first(values, "proxyjump")
    jump = "" if jump == "none" else jump
    command = _first(values, "proxycommand")
    command = "" if command == "none" or jump else command
    hops = tuple(h for h in jump.split(",") if h in aliases) if jump else ()
    port = _first(values, "port")
    user = _first(values, "user")
    profile = DeviceProfile(
        name=alias,
        host=_first(values, "hostname") or alias,
        # ssh -G always names a user; the local one is what "no user" means in a profile too
        user=user if user and user != _local_user() else None,
        port=int(port) if port.isdigit() else 22,
        identity_file=identities[0] if identities else None,
        jump_host=jump or None,
        tags=(SYNC_TAG,) if is_sync_config(path) else (),
        extra_identity_files=tuple(identities[1:]),
        proxy_command=command or None,
    )
    return ImportedHost(alias, profile, hops=hops, known_hosts=known)


def resolve_config(path: Path, wanted: list[str] | None = None) -> list[ImportedHost]:
    """Every concrete alias of ``path`` (or the ``wanted`` ones and their jump hops), resolved.

    OpenSSH resolves them when ``ssh`` is installed; otherwise asyncssh's parser does.

    Raises:
        ConfigError: the file cannot be read, or OpenSSH/asyncssh refuses it.
    """
    aliases = config_aliases(path)
    ssh = shutil.which("ssh")
    todo = [a for a in aliases if not wanted or a in wanted]
    if ssh is None:
        return [ImportedHost(alias, imported_profile(path, alias)) for alias in todo]
    defaults = resolve(Path(os.devnull), "spark-tui-defaults.invalid", ssh).get("identityfile", [])
    done: dict[str, ImportedHost] = {}
    while todo:
        alias = todo.pop(0)
        if alias in done:
            continue
        host = resolve_host(path, alias, aliases, ssh, defaults)
        done[alias] = host
        todo += [hop for hop in host.hops if hop not in done]
    return list(done.values())


@dataclass(frozen=True)
class TrustedElsewhere:
    """A known_hosts line OpenSSH would use for an imported host.

    Attributes:
        entry: The line (its marker, patterns and key).
        source: The file it is in.
    """

    entry: KnownHostEntry
    source: Path


def openssh_trust(profile: DeviceProfile, files: tuple[Path, ...]) -> list[TrustedElsewhere]:
    """The keys, CAs and revocations OpenSSH's known_hosts files hold for ``profile``'s host.

    Unreadable files are skipped (OpenSSH skips them too); so are files others can write.
    """
    name = host_pattern(profile.host, profile.port)
    found: list[TrustedElsewhere] = []
    for path in files:
        try:
            entries = KnownHosts(path).entries()
        except Exception:  # noqa: BLE001 - unreadable or group-writable: not trusted, not offered
            continue
        found += [TrustedElsewhere(e, path) for e in entries if e.matches(name)]
    return found


def adopt_trust(known: KnownHosts, profile: DeviceProfile, lines: list[TrustedElsewhere]) -> int:
    """Write ``lines`` into our known_hosts for ``profile``'s host (marked lines keep their marker).

    Returns:
        How many lines were added (ones already there are not repeated).

    Raises:
        ConnectError: our known_hosts is writable by others.
        OSError: it cannot be written.
    """
    name = host_pattern(profile.host, profile.port)
    have = {(e.marker, e.key.public_data) for e in known.entries() if e.matches(name)}
    new = []
    for line in lines:
        entry = line.entry
        if (entry.marker, entry.key.public_data) in have:
            continue
        have.add((entry.marker, entry.key.public_data))
        algorithm, blob = entry.key.export_public_key("openssh").decode().split()[:2]
        new.append(f"{entry.marker + ' ' if entry.marker else ''}{name} {algorithm} {blob}\n")
    if new:
        try:
            old = known.path.read_bytes()
        except FileNotFoundError:
            old = b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        write_private_file(known.path, old + "".join(new).encode())
    return len(new)
