"""``spark-tui copy [-r] [--resume] [--checksum] [--quiet] SRC... DEST``: scp-style copies."""

from __future__ import annotations


from spark_tui.core.errors import DeviceNotFound
from spark_tui.core.files import Place, TransferProgress, parse_place
from spark_tui.core.untrusted import display_safe


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def progress_line(p: TransferProgress, width: int = 100) -> str:
    """One status line: bytes, rate, ETA and the current file (escaped)."""
    eta = p.eta
    eta_text = "--:--" if eta is None else f"{int(eta) // 60:02d}:{int(eta) % 60:02d}"
    head = f"{_size(p.done)} / {_size(p.total)}  {_size(p.rate)}/s  ETA {eta_text}  "
    if p.state.value == "reconnecting":
        head += "(reconnecting) "
    room = max(8, width - len(head))
    name = display_safe(p.current, 4096)
    if len(name) > room:  # keep the end: the file's own name matters more than its folders
        name = "\u2026" + name[-(room - 1):]
    return head + name


class _Printer:
    """Redraws one progress line on a terminal's stderr."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.shown = False

    def __call__(self, progress: TransferProgress) -> None:
        import shutil

        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r\x1b[K" + progress_line(progress, width))
        self.stream.flush()
        self.shown = True

    def end(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _early_master(profile, known_hosts, sources: list[Place], dest: Place, recursive: bool):
    """The copy's early master (``direct_master``), already running when the copy may want it:
    its login begins before asyncio and the rest of the copy load (~0.02 s of a small copy).
    ``None`` when the device cannot have one."""
    from spark_tui.services.files import may_move_much
    from spark_tui.services.tunnels import direct_master

    master = direct_master(profile, known_hosts)
    if master is not None and may_move_much(sources, dest, recursive):
        try:
            master.spawn()
        except OSError:
            pass  # started again (and its failure told) when the copy wants it
    return master


def run(args, ctx) -> int:
    """Copy files and folders between this computer and a saved device.

    Returns:
        0 when everything was copied.

    Raises:
        DeviceNotFound: a NAME: is not a saved device.
        CopyError: a file could not be copied; the message names it and says why.
        ConnectError: the device could not be reached.
    """
    from spark_tui.config import locations

    if not all([*args.sources, args.dest]):
        print("spark-tui copy: error: an empty path", file=ctx.stderr)
        return 2
    places: list[Place] = [parse_place(p) for p in [*args.sources, args.dest]]
    *sources, dest = places
    config = ctx.store().load()
    devices = {p.device for p in places if p.device}
    for name in devices:
        if config.device(name) is None:
            raise DeviceNotFound(f"no saved device named {name!r}", "see: spark-tui device list (a local path with a colon: write ./NAME)")
    device = next(iter(devices), None)
    known_hosts = locations.known_hosts_path()
    early = _early_master(config.device(device), known_hosts, sources, dest, args.recursive) if device else None

    from spark_tui.commands.host_trust import confirm_for
    from spark_tui.services import event_loop
    from spark_tui.services.files import CopyOptions, Transfer

    printer = None
    if not args.quiet and hasattr(ctx.raw_stderr, "isatty") and ctx.raw_stderr.isatty():
        printer = _Printer(ctx.raw_stderr)  # its own \r and erase-line; the names in it are escaped by progress_line

    async def main() -> int:
        services = []  # asyncssh is imported by the first connect, after the early master has started

        async def connect():
            if not services:
                from spark_tui.services.ssh import ConnectionService

                # Built as `exec` builds it: same login, same host-key question (--trust, a terminal, or a refusal).
                services.append(ConnectionService(profiles=config.device, known_hosts=known_hosts,
                                                  confirm_host_key=confirm_for(ctx, args, device or "")))
            return await services[0].connect(config.device(device))

        def make_master(conn):
            from spark_tui.services.tunnels import master_factory

            make = master_factory(lambda: config.device(device), known_hosts)
            return make(conn) if make is not None else None

        transfer = Transfer(
            sources, dest, connect=connect if device else None, recursive=args.recursive,
            make_master=make_master if device else None,
            early_master=early,
            options=CopyOptions(resume=args.resume, checksum=args.checksum), on_progress=printer,
        )
        try:
            await transfer.run()
        finally:
            if printer:
                printer.end()
            for service in services:
                await service.close()
        return 0

    try:
        return event_loop.run(main())
    except KeyboardInterrupt:
        if printer:
            printer.end()
        print("spark-tui: interrupted; the partial file stays: add --resume to continue", file=ctx.stderr)
        return 130
