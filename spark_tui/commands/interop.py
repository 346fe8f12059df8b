"""Commands that meet OpenSSH halfway: ``device import``, ``ssh-config`` and ``exec``."""

from __future__ import annotations

import asyncio
import codecs
from pathlib import Path

from spark_tui.core.errors import ConnectError, DeviceNotFound, SparkError
from spark_tui.core.models import DeviceProfile

CONNECT_FAILED = 255  # what ``ssh`` exits with when it cannot connect


def import_hosts(args, ctx) -> int:
    """``spark-tui device import [--from FILE] [--trust-known-hosts] [HOSTS...]``: ssh config aliases as devices.

    Each alias is resolved by OpenSSH (``ssh -G``); a host that cannot be represented is skipped
    with one line naming the directive. Importing a host brings the aliases its ProxyJump goes
    through. The keys OpenSSH already trusts for an imported host are listed with the file they
    come from and trusted in spark-tui's known_hosts with ``--trust-known-hosts`` (or a ``yes``
    on a terminal); otherwise they are only listed.

    Returns:
        0 when something was imported or everything asked for was already saved, 1 when a host
        asked for is not in the files.

    Raises:
        ConfigError: a config file cannot be read or OpenSSH refuses it, or the profile file
            cannot be saved.
        SparkError: there is no ssh config to read.
    """
    from spark_tui.config import locations
    from spark_tui.core.errors import DeviceExists, InvalidProfile
    from spark_tui.services.ssh import KnownHosts, default_sources, openssh_trust, resolve_config

    sources = [Path(args.source).expanduser()] if args.source else default_sources()
    if not sources:
        raise SparkError("no ssh config found (~/.ssh/config, NVIDIA Sync's ssh_config)", "name one with --from FILE")
    wanted = list(args.hosts or [])
    store = ctx.store()
    known = KnownHosts(locations.known_hosts_path())
    imported = skipped = 0
    seen: set[str] = set()
    from spark_tui.config.trust import untrusted

    for source in sources:
        distrust = untrusted(source)  # like ssh: a config another user can change is not read
        if distrust is not None:
            raise SparkError(f"not importing from {source}: {distrust.path} {distrust.reason}", f"fix it with: {distrust.fix}")
        for host in resolve_config(source, wanted or None):
            if host.alias in seen:
                continue
            seen.add(host.alias)
            profile = host.profile
            if profile is None:
                print(f"skipped {host.alias}: {host.skipped}", file=ctx.stderr)
                skipped += 1
                continue
            try:
                store.add_device(profile)
            except DeviceExists:
                print(f"skipped {host.alias}: a device with that name is already saved", file=ctx.stdout)
                skipped += 1
                continue
            except InvalidProfile as error:
                print(f"skipped {host.alias}: {error}", file=ctx.stderr)
                skipped += 1
                continue
            imported += 1
            where = f"{profile.user + '@' if profile.user else ''}{profile.host}:{profile.port}"
            via = f" via {profile.jump_host}" if profile.jump_host else " via ProxyCommand" if profile.proxy_command else ""
            print(f"imported {host.alias} ({where}{via}) from {source}", file=ctx.stdout)
            _offer_trust(args, ctx, known, profile, openssh_trust(profile, host.known_hosts))
    missing = [host for host in wanted if host not in seen]
    for host in missing:
        print(f"spark-tui: error: no Host {host} in {', '.join(map(str, sources))}", file=ctx.stderr)
    print(f"{imported} imported, {skipped} skipped", file=ctx.stdout)
    return 1 if missing else 0


def _offer_trust(args, ctx, known, profile: DeviceProfile, lines) -> None:
    """List what OpenSSH trusts for ``profile`` and, if the user agrees, trust it here too."""
    if not lines:
        return
    from spark_tui.commands.host_trust import key_kind
    from spark_tui.services.ssh import adopt_trust, fingerprint

    for line in lines:
        what = {"@revoked": "REVOKED ", "@cert-authority": "certificate authority "}.get(line.entry.marker, "")
        print(f"  OpenSSH trusts for {profile.name}: {what}{key_kind(line.entry.key.algorithm.decode())} key "
              f"{fingerprint(line.entry.key)} from {line.source}", file=ctx.stdout)
    agree = bool(getattr(args, "trust_known_hosts", False))
    if not agree and ctx.stdin.isatty() and ctx.stderr.isatty():
        print(f"Trust these for {profile.name} in spark-tui too? [y/N] ", end="", file=ctx.stderr, flush=True)
        agree = ctx.stdin.readline().strip().lower() in ("y", "yes")
    if not agree:
        print(f"  not trusted here: pass --trust-known-hosts, or review with: spark-tui device trust {profile.name}", file=ctx.stdout)
        return
    added = adopt_trust(known, profile, lines)
    print(f"  trusted {added} line(s) for {profile.name} in {known.path}", file=ctx.stdout)


def ssh_config(args, ctx) -> int:
    """``spark-tui ssh-config [-o FILE]``: an OpenSSH config for every device, to ``Include``.

    Returns:
        0.

    Raises:
        ConfigError: the profile file is invalid.
        SparkError: the output file cannot be written.
    """
    from spark_tui.config import locations
    from spark_tui.services.ssh import ExportSettings, render_config, write_private_file

    config = ctx.store().load()
    text = render_config(list(config.devices), ExportSettings(known_hosts=locations.known_hosts_path()))
    if not args.output:
        ctx.stdout.write(text)
        return 0
    target = Path(args.output).expanduser()
    try:
        write_private_file(target, text.encode())
    except OSError as error:
        raise SparkError(f"cannot write {target}: {error.strerror}", "choose another path with -o") from None
    from spark_tui.services.ssh import openssh_word

    print(
        f"wrote {target}; use it with this line at the TOP of ~/.ssh/config "
        f"(after it, Host * defaults already matched):  Include {openssh_word(str(target), tokens=False)}",
        file=ctx.stdout,
    )
    return 0


def _targets(args, config) -> tuple[list[DeviceProfile], list[str]]:
    """The devices to run on and the command words, untangled from argparse's REMAINDER."""
    cmd = list(args.cmd or [])
    many = bool(args.all or args.tag)
    if many and args.name:  # with --all/--tag argparse takes the command's first word as NAME
        cmd.insert(0, args.name)
    # argparse's REMAINDER swallows options written after NAME: take ours back before the --
    while cmd and cmd[0] in ("--trust", "--raw") and "--" in cmd:
        if cmd[0] == "--raw":
            args.raw = True
            cmd.pop(0)
        elif len(cmd) >= 2 and not getattr(args, "trust", None):
            args.trust = cmd[1]
            del cmd[:2]
        else:
            break
    if cmd and cmd[0] == "--":
        cmd.pop(0)
    if not cmd:
        raise SparkError("no command given", "write it after --: spark-tui exec NAME -- uname -a")
    if many:
        devices = [d for d in config.devices if not d.demo and (args.all or args.tag in d.tags)]
        if not devices:
            raise DeviceNotFound(f"no saved device is tagged {args.tag!r}" if args.tag else "no devices are saved", "see: spark-tui device list")
        return devices, cmd
    if not args.name:
        raise SparkError("which device?", "name one, or use --all / --tag T")
    device = config.device(args.name)
    if device is None:
        raise DeviceNotFound(f"no saved device named {args.name!r}", "see: spark-tui device list")
    return [device], cmd


class _Lines:
    """Writes a device's output whole lines at a time, each prefixed with ``NAME: ``."""

    def __init__(self, stream, prefix: str) -> None:
        self.stream, self.prefix, self.pending = stream, prefix, b""

    def feed(self, data: bytes) -> None:
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            self.stream.write(f"{self.prefix}{line.decode(errors='replace')}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.pending:
            self.feed(b"\n")


class _Raw:
    """Passes a single device's output through as it comes."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        self.stream.write(self.decoder.decode(data))
        self.stream.flush()

    def close(self) -> None:
        self.stream.write(self.decoder.decode(b"", final=True))


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


async def _pump(reader, out: _Lines | _Raw) -> None:
    while data := await reader.read(65536):
        out.feed(data)
    out.close()


async def _run_on(service, device: DeviceProfile, command: str, ctx, prefixed: bool, raw: bool = False) -> int:
    try:
        conn = await service.connect(device)
    except ConnectError as error:
        if not prefixed:
            raise
        print(f"{device.name}: error: {error}", file=ctx.stderr, flush=True)
        return CONNECT_FAILED
    async with conn.create_process(command, encoding=None) as process:
        process.stdin.write_eof()
        if prefixed:
            outs = (_Lines(ctx.stdout, f"{device.name}: "), _Lines(ctx.stderr, f"{device.name}: "))
        else:
            # To a file or pipe the command's own bytes pass as they are (as with ssh, so
            # `exec spark -- cat f > copy` copies); to a terminal a person is looking at, the
            # device's escapes are shown, not obeyed, unless --raw asks for ssh's behaviour.
            outs = tuple(_Raw(safe if _is_terminal(stream) and not raw else stream)
                         for safe, stream in ((ctx.stdout, ctx.raw_stdout), (ctx.stderr, ctx.raw_stderr)))
        await asyncio.gather(_pump(process.stdout, outs[0]), _pump(process.stderr, outs[1]))
        result = await process.wait()
    if result.exit_status is not None and result.exit_status >= 0:
        return result.exit_status
    return CONNECT_FAILED


def exec_command(args, ctx) -> int:
    """``spark-tui exec NAME -- CMD`` or ``exec --all|--tag T -- CMD``: run a command remotely.

    The words are joined with spaces, as ``ssh`` does, and run by the remote user's shell.
    With several devices they run concurrently and each output line is prefixed ``NAME: ``
    (and sanitised). One device's output goes to a file or pipe as it is; to a terminal its
    control characters are shown as escapes unless ``--raw``.
    An unknown host key is asked about on a terminal, accepted with ``--trust FP`` when it has
    that fingerprint, and refused otherwise (see ``commands.host_trust``).

    Returns:
        The remote exit status; with several devices the worst one (255 when one could not
        be reached).

    Raises:
        DeviceNotFound: the device or tag is unknown.
        ConnectError: the single device named could not be reached.
        SparkError: no command was given.
    """
    from spark_tui.commands.host_trust import confirm_host_key
    from spark_tui.services.ssh import ConnectionService

    config = ctx.store().load()
    devices, cmd = _targets(args, config)
    command = " ".join(cmd)
    prefixed = bool(args.all or args.tag)
    confirm = confirm_host_key(ctx, trust=getattr(args, "trust", None), device=devices[0].name if len(devices) == 1 else None)

    async def run() -> int:
        service = ConnectionService(profiles=config.device, confirm_host_key=confirm)
        try:
            statuses = await asyncio.gather(*(_run_on(service, d, command, ctx, prefixed, bool(getattr(args, "raw", False))) for d in devices))
        finally:
            await service.close()
        return max(statuses)

    return asyncio.run(run())
