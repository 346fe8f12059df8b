"""Command line: parses arguments, then runs the dashboard or one headless command.

Every headless command is a function ``run(args, ctx) -> int`` in ``spark_tui/commands/``,
named in ``COMMANDS`` and imported only when chosen, so ``spark-tui --version`` stays instant.
Exit codes: 0 ok, 1 failure (one line on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `--version` must not pay for importing typing
if TYPE_CHECKING:
    from pathlib import Path
    from typing import TextIO

from spark_tui import __version__

# (command, subcommand) -> "module:function". The function takes (args, ctx) and returns an
# exit code. ``None`` as subcommand means the command has no subcommands.
COMMANDS: dict[tuple[str, str | None], str] = {
    ("dashboard", None): "spark_tui.commands.dashboard:run",
    ("demo", None): "spark_tui.commands.demo:run",
    ("device", "list"): "spark_tui.commands.devices:list_devices",
    ("device", "add"): "spark_tui.commands.devices:add_device",
    ("device", "remove"): "spark_tui.commands.devices:remove_device",
    ("device", "import"): "spark_tui.commands.interop:import_hosts",
    ("device", "trust"): "spark_tui.commands.devices:trust_device",
    ("discover", None): "spark_tui.commands.discover:run",
    ("tunnel", None): "spark_tui.commands.tunnel:run",
    ("exec", None): "spark_tui.commands.interop:exec_command",
    ("copy", None): "spark_tui.commands.copy:run",
    ("ssh-config", None): "spark_tui.commands.interop:ssh_config",
    ("shell", None): "spark_tui.commands.dashboard:shell",
    ("export", "ansible"): "spark_tui.commands.export:ansible",
    ("app", "list"): "spark_tui.commands.app:list_apps",
    ("app", "add"): "spark_tui.commands.app:add_app",
    ("app", "remove"): "spark_tui.commands.app:remove_app",
    ("app", "start"): "spark_tui.commands.app:start_app",
    ("app", "stop"): "spark_tui.commands.app:stop_app",
    ("containers", None): "spark_tui.commands.containers:run",
    ("open", None): "spark_tui.commands.editor:run",
}


class CliContext:
    """What every command gets besides its arguments.

    Attributes:
        config_path: The profile file in force (``--config``, ``$SPARK_TUI_CONFIG`` or default).
        stdout: Where normal output goes. Everything written to it passes
            :class:`~spark_tui.core.untrusted.SafeWriter`, so no control character a device
            or a hand-edited file put into a message reaches the terminal.
        stderr: Where the one-line error goes, through the same filter.
        raw_stdout, raw_stderr: The streams themselves, only for a remote command's own
            output in ``spark-tui exec NAME`` when it goes to a file or a pipe (or ``--raw``).
        stdin: Where prompts read from.
    """

    def __init__(
        self, config_path: Path, stdout: TextIO | None = None, stderr: TextIO | None = None, stdin: TextIO | None = None
    ) -> None:
        from spark_tui.core.untrusted import SafeWriter

        self.config_path = config_path
        self.raw_stdout = stdout or sys.stdout
        self.raw_stderr = stderr or sys.stderr
        self.stdout = SafeWriter(self.raw_stdout)
        self.stderr = SafeWriter(self.raw_stderr)
        self.stdin = stdin or sys.stdin

    def with_config(self, config_path: Path) -> CliContext:
        """The same context for another profile file (the demo's throwaway one)."""
        return CliContext(config_path, self.raw_stdout, self.raw_stderr, self.stdin)

    def store(self):
        """The profile store for ``config_path`` (imported lazily)."""
        from spark_tui.config.store import ProfileStore

        return ProfileStore(self.config_path)


def build_parser() -> argparse.ArgumentParser:
    """The whole argument grammar, in one place."""
    parser = argparse.ArgumentParser(
        prog="spark-tui",
        description="Keyboard-driven dashboard for NVIDIA DGX Spark and other SSH hosts.",
    )
    parser.add_argument("--version", action="version", version=f"spark-tui {__version__}")
    parser.add_argument("--config", metavar="PATH", help="profile file (default: platform config folder; env SPARK_TUI_CONFIG)")
    parser.add_argument("--log-level", metavar="LEVEL", help="log level for this run (DEBUG, INFO, WARNING)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="open the dashboard on the built-in demo device (no Spark needed)")
    demo.add_argument("--serve", action="store_true", help="only run the demo device, print how to reach it, until Ctrl-C")

    device = sub.add_parser("device", help="list, add or remove saved devices")
    dsub = device.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    dlist = dsub.add_parser("list", help="list saved devices")
    dlist.add_argument("--json", action="store_true", help="machine-readable output")
    dadd = dsub.add_parser("add", help="save a device")
    dadd.add_argument("name")
    dadd.add_argument("--host", required=True, help="host name or address (spark-abcd.local, 192.0.2.7)")
    dadd.add_argument("--user", help="login name (default: your local user name)")
    dadd.add_argument("--port", type=int, default=22, help="SSH port (default 22)")
    dadd.add_argument("--identity", metavar="FILE", help="private key to use")
    dadd.add_argument("--jump", metavar="HOST", help="jump host (ProxyJump)")
    dadd.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    dadd.add_argument(
        "--setup-key",
        action="store_true",
        help="log in once with a password (prompted), install a new key, then forget the password",
    )
    dadd.add_argument("--trust", metavar="FINGERPRINT", help="accept this host key fingerprint without asking")
    drm = dsub.add_parser("remove", help="forget a saved device")
    drm.add_argument("name")
    drm.add_argument("--revoke", action="store_true", help="first remove our key from the device's authorized_keys")
    dimp = dsub.add_parser("import", help="import hosts from ~/.ssh/config and NVIDIA Sync's ssh config")
    dimp.add_argument("--from", dest="source", metavar="FILE", help="ssh config file to read (default: ~/.ssh/config and Sync's)")
    dimp.add_argument("hosts", nargs="*", help="only these Host aliases")
    dimp.add_argument(
        "--trust-known-hosts", action="store_true",
        help="also trust the keys OpenSSH already trusts for them (their UserKnownHostsFile/GlobalKnownHostsFile)",
    )
    dtr = dsub.add_parser("trust", help="review and trust a device's host key (no login)")
    dtr.add_argument("name")
    dtr.add_argument("--fingerprint", metavar="SHA256:...", help="trust the key only if it has this fingerprint (no question)")

    disc = sub.add_parser("discover", help="browse mDNS for SSH hosts, print them and exit")
    disc.add_argument("--timeout", type=float, default=3.0, metavar="S", help="seconds to listen (default 3)")
    disc.add_argument("--interface", action="append", default=[], metavar="ADDR", help="interface address to use (repeatable; default all)")
    disc.add_argument("--json", action="store_true", help="machine-readable output")

    tun = sub.add_parser("tunnel", help="run tunnels to a device without the dashboard, until Ctrl-C")
    tun.add_argument("name", help="device name")
    tun.add_argument("ports", nargs="+", metavar="REMOTE_PORT[:LOCAL_PORT]")
    tun.add_argument("--bind", metavar="ADDR", help="local listen address, also for saved tunnels (default 127.0.0.1, or the saved one's)")
    tun.add_argument("--trust", metavar="SHA256:...", help="accept an unknown host key only if it has this fingerprint")

    ex = sub.add_parser("exec", help="run a command on one or more devices")
    ex.add_argument("name", nargs="?", help="device name")
    ex.add_argument("--all", action="store_true", help="every saved device")
    ex.add_argument("--tag", metavar="T", help="every device tagged T")
    ex.add_argument("--trust", metavar="SHA256:...", help="accept an unknown host key only if it has this fingerprint")
    ex.add_argument("--raw", action="store_true", help="pass the output through untouched even to a terminal, escape sequences and all (as ssh does)")
    ex.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD")

    cp = sub.add_parser("copy", help="copy files and folders to or from a device (scp-style: NAME:PATH)")
    cp.add_argument("-r", "--recursive", action="store_true", help="copy folders")
    cp.add_argument("--resume", action="store_true", help="continue interrupted copies (their part is checked first)")
    cp.add_argument("--checksum", action="store_true", help="verify each file with SHA-256 on both ends")
    cp.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    cp.add_argument("--trust", metavar="SHA256:...", help="accept an unknown host key only if it has this fingerprint")
    cp.add_argument("sources", nargs="+", metavar="SRC")
    cp.add_argument("dest", metavar="DEST")

    sc = sub.add_parser("ssh-config", help="write an OpenSSH config for all devices, to Include")
    sc.add_argument("--output", "-o", metavar="FILE", help="where to write (default: print)")

    sh = sub.add_parser("shell", help="open the dashboard straight into a shell on a device")
    sh.add_argument("name")

    exp = sub.add_parser("export", help="export profiles for other tools")
    esub = exp.add_subparsers(dest="subcommand", metavar="FORMAT", required=True)
    ans = esub.add_parser("ansible", help="an Ansible inventory (JSON, which Ansible reads as YAML)")
    ans.add_argument("--output", "-o", metavar="FILE", help="where to write (default: print)")
    _app_parsers(sub)
    return parser


def _app_parsers(sub) -> None:
    """``app ...``, ``containers`` and ``open`` (apps, docker and editors on a device)."""
    app = sub.add_parser("app", help="a device's apps: start script + port + browser, like NVIDIA Sync's custom apps")
    asub = app.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    alist = asub.add_parser("list", help="list a device's saved apps")
    alist.add_argument("name")
    alist.add_argument("--json", action="store_true", help="machine-readable output")
    aadd = asub.add_parser("add", help="save an app for a device")
    aadd.add_argument("name")
    aadd.add_argument("app")
    aadd.add_argument("--port", type=int, metavar="P", help="port the app listens on at the device (required unless --preset)")
    aadd.add_argument("--script", metavar="FILE", help="local start script, sent to the device at each start")
    aadd.add_argument("--path", metavar="/", help="path to open in the browser (default /)")
    aadd.add_argument("--open", action="store_true", help="open the browser once the app is up")
    aadd.add_argument("--preset", metavar="PRESET", help="start from a playbook app: open-webui, comfyui, ollama, vllm, jupyterlab")
    aadd.add_argument("--local-port", type=int, metavar="P", help="port on this computer (default: the same, or the next free)")
    arm = asub.add_parser("remove", help="forget a saved app")
    arm.add_argument("name")
    arm.add_argument("app")
    astart = asub.add_parser("start", help="start an app, print its local URL, run until Ctrl-C, then stop it")
    astart.add_argument("--trust", metavar="SHA256:...", help="accept an unknown host key only if it has this fingerprint")
    astart.add_argument("target", metavar="NAME/APP")
    astart.add_argument("--timeout", type=float, default=120.0, metavar="S", help="seconds to wait for its port (default 120)")
    astart.add_argument("--grace", type=float, default=10.0, metavar="S", help="seconds from SIGTERM to SIGKILL on stop (default 10)")
    astart.add_argument("--no-open", action="store_true", help="do not open the browser even if the app says so")
    astart.add_argument("--leave-running", action="store_true", help="on Ctrl-C close the tunnel but leave the app running")
    astop = asub.add_parser("stop", help="stop an app (also one another spark-tui started)")
    astop.add_argument("--trust", metavar="SHA256:...", help="accept an unknown host key only if it has this fingerprint")
    astop.add_argument("target", metavar="NAME/APP")
    astop.add_argument("--grace", type=float, default=10.0, metavar="S", help="seconds from SIGTERM to SIGKILL (default 10)")

    cont = sub.add_parser("containers", help="list the docker containers on a device")
    cont.add_argument("--trust", metavar="SHA256:...", help="accept an unknown host key only if it has this fingerprint")
    cont.add_argument("name")
    cont.add_argument("--json", action="store_true", help="machine-readable output")

    op = sub.add_parser("open", help="open a device in VS Code or Cursor (Remote-SSH)")
    op.add_argument("name")
    op.add_argument("path", nargs="?", help="folder on the device to open")
    op.add_argument("--editor", choices=("code", "cursor"), default="code", help="which editor (default code)")


QUICK_EXIT = frozenset({"copy"})
"""Commands after which the ``spark-tui`` program leaves with ``os._exit`` (output flushed, logs
closed) rather than tearing the interpreter down module by module: ~30 ms with asyncssh loaded,
measured, a tenth of a small copy's whole run. Only commands that leave nothing to clean up."""


def entry() -> None:
    """The ``spark-tui`` program (and ``python -m spark_tui``): :func:`main`, then exit."""
    raise SystemExit(main(quick_exit=True))


def main(argv: list[str] | None = None, *, quick_exit: bool = False) -> int:
    """Entry point of ``spark-tui``. Returns the exit code (with ``quick_exit``, a command in
    ``QUICK_EXIT`` ends the process instead)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code = _run(args)
    if quick_exit and args.command in QUICK_EXIT:
        import logging

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                code = code or 1  # as the interpreter's own exit does when stdout cannot be written
        logging.shutdown()
        os._exit(code)
    return code


def _run(args) -> int:
    from spark_tui.config.locations import config_path

    ctx = CliContext(config_path=config_path(args.config))
    command = args.command or "dashboard"
    target = COMMANDS[(command, getattr(args, "subcommand", None))]
    module_name, func_name = target.split(":")
    from spark_tui.core.errors import SparkError

    try:
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(args, ctx) or 0)
    except SparkError as error:
        print(f"spark-tui: error: {error}", file=ctx.stderr)  # ctx.stderr lets no control character through
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: say so, but its text may quote a device, so it goes through ctx.stderr too
        import traceback

        print(f"spark-tui: internal error: {type(error).__name__}: {error}", file=ctx.stderr)
        print("".join(traceback.format_exception(error)).rstrip(), file=ctx.stderr)
        return 1
