"""Errors that cross layer boundaries.

Every error a user can see carries a one-line ``message`` and, where we know one, a ``hint``
saying what to do about it. The CLI prints ``str(error)``; the TUI shows message and hint apart.
"""

from __future__ import annotations

from spark_tui.core.untrusted import display_safe_lines


class SparkError(Exception):
    """Base of every error spark-tui shows to a user.

    Args:
        message: One line saying what went wrong.
        hint: What the user can do about it, or ``""``.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        # Messages often quote a device, the LAN or a hand-edited file: whatever shows them
        # (CLI line, notification, dialog) gets no control character and no endless text.
        message = display_safe_lines(message, 2000, 1000, escape_backslash=False)
        hint = display_safe_lines(hint, 1000, 1000, escape_backslash=False)
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(SparkError):
    """The profile file cannot be read, parsed or validated.

    Args:
        path: The file.
        message: What is wrong.
        line: 1-based line of the problem, when known.
        field: Dotted name of the offending field (``devices.spark-1a2b.port``), when known.
        hint: How to fix it.
    """

    def __init__(
        self,
        path: str,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str = "",
    ) -> None:
        where = path if line is None else f"{path}:{line}"
        if field:
            where += f" [{field}]"
        super().__init__(f"{where}: {message}", hint)
        self.path = path
        self.line = line
        self.field = field


class ConfigConflict(ConfigError):
    """A save would overwrite a change someone else made to the same entry on disk."""


class DeviceNotFound(SparkError):
    """No saved profile has that name."""


class ConnectError(SparkError):
    """Connecting to a device failed; ``kind`` names the failure for programs.

    Kinds: ``resolve``, ``refused``, ``timeout``, ``auth``, ``host-key-changed``,
    ``host-key-unknown``, ``key-file``, ``lost``, ``other``.
    """

    def __init__(self, kind: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.kind = kind


class HostKeyChanged(ConnectError):
    """The device presented a host key different from the one we trusted."""

    def __init__(self, host: str, old_fingerprint: str, new_fingerprint: str, known_hosts: str) -> None:
        super().__init__(
            "host-key-changed",
            f"host key for {host} has CHANGED: trusted {old_fingerprint}, offered {new_fingerprint}",
            f"if the device was reinstalled, remove the old key with: "
            f"ssh-keygen -R {host} -f {known_hosts}",
        )
        self.host = host
        self.old_fingerprint = old_fingerprint
        self.new_fingerprint = new_fingerprint


class TunnelError(SparkError):
    """A tunnel could not start (port in use, bad spec) or failed for good."""


class PortInUse(TunnelError):
    """The local port a tunnel wants is taken; ``suggestion`` is the next free one."""

    def __init__(self, address: str, port: int, suggestion: int | None) -> None:
        hint = f"port {suggestion} is free" if suggestion else "choose another local port"
        super().__init__(f"local port {address}:{port} is already in use", hint)
        self.address = address
        self.port = port
        self.suggestion = suggestion


class UnknownTheme(SparkError):
    """The settings name a colour theme that does not exist; the hint lists the valid names."""


class DeviceExists(SparkError):
    """A saved profile already has that name (adding would overwrite it)."""


class TunnelNotFound(SparkError):
    """The device has no saved tunnel of that name."""


class AppNotFound(SparkError):
    """The device has no saved app of that name."""


class AppError(SparkError):
    """An app could not start or stop; ``output`` holds the last lines its script printed."""

    def __init__(self, message: str, hint: str = "", output: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint)
        self.output = output


class DockerUnavailable(SparkError):
    """Docker cannot be used on the device (missing, no permission, daemon down)."""


class InvalidProfile(SparkError):
    """A profile, tunnel or setting given by code or the command line breaks the file's rules.

    Args:
        field: Dotted name of the offending field (``devices.spark-1a2b.port``).
        message: What is wrong.
        hint: How to fix it.
    """

    def __init__(self, field: str, message: str, hint: str = "") -> None:
        super().__init__(f"{field}: {message}", hint)
        self.field = field


class ShellError(SparkError):
    """A shell session could not be opened on a device (refused channel or PTY)."""


class OnboardingFailed(ConnectError):
    """A step of key onboarding failed; nothing was kept.

    Args:
        step: The step that failed: ``connect``, ``host-key``, ``key``, ``install`` or ``verify``.
        kind: The ``ConnectError`` kind of the underlying failure.
        message: What went wrong (shown after ``"<step>: "``).
        hint: What to do about it.
    """

    def __init__(self, step: str, kind: str, message: str, hint: str = "") -> None:
        super().__init__(kind, f"{step}: {message}", hint)
        self.step = step
