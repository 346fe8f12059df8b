"""Read a profile file into text, an editable TOML document and a validated ``Config``.

Reading never writes. Every problem becomes a ``ConfigError`` naming the file and, when it can
be found, the line and the field, with a hint; nothing else escapes, whatever the bytes.
The text is parsed by ``tomllib`` (strict TOML, with line numbers in its errors) for the values
and, before a save, also by ``tomlkit`` for the document the save edits. The two must agree, so
a save is never based on a different reading of the file than the one that was validated.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tomlkit.toml_document import TOMLDocument

from spark_tui.config import disk, schema, trust
from spark_tui.config.fields import SchemaProblem
from spark_tui.config.locate import line_of, line_of_offset
from spark_tui.core.errors import ConfigError
from spark_tui.core.models import Config

MAX_BYTES = 256 * 1024  # a profile file is a few kilobytes; refuse to parse anything absurd
MAX_KEYS = 8_000
"""Keys and table headers a profile may hold (300 devices with two tunnels each use ~5000)."""
MAX_KEY_PARTS = 8
"""Dots outside strings on one line, i.e. a key's depth (``devices.NAME.tunnels`` is 3)."""
MAX_DOTTED_KEYS = 256
"""Keys written dotted (``a.b = 1``) rather than under a table header. The TOML parsers pay
for these with time growing with the square of their depth and count: a 16 KiB key took
tomllib over a second, and 3800 keys of depth 32 kept tomlkit busy for 340 s, on the UI's
thread, so the shape is checked before anything parses it."""
_STRINGS_AND_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#.*')
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


@dataclasses.dataclass(frozen=True)
class ProfileText:
    """The file as read once.

    Attributes:
        text: Its text (``""`` when missing).
        doc: The editable document; ``None`` when the file is missing or not read for editing.
        config: What it holds, validated.
        signature: Its stat signature when read, ``None`` when missing.
    """

    text: str
    doc: TOMLDocument | None
    config: Config
    signature: disk.Signature | None


def read_profile_file(path: Path, *, editable: bool = False) -> ProfileText:
    """Read, parse and validate ``path`` as it is now. A missing file is an empty config.

    Args:
        path: The profile file.
        editable: Also build the ``tomlkit`` document a save edits. It costs several times
            the rest of the read, so plain loads skip it.

    Raises:
        ConfigError: Unreadable, too large, not UTF-8, not TOML, or an invalid value; with
            ``editable``, also a file whose TOML ``tomlkit`` reads differently.
    """

    def error(message: str, *, line: int | None = None, field: str | None = None, hint: str = "") -> ConfigError:
        return ConfigError(str(path), message, line=line, field=field, hint=hint)

    try:
        with open(path, "rb") as handle:
            status = os.fstat(handle.fileno())
            signature = disk.signature_of(status)
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return ProfileText("", None, Config(), None)
    except IsADirectoryError:
        raise error("is a folder, not a profile file", hint="pass the path of a .toml file with --config") from None
    except OSError as failure:
        raise error(f"cannot read: {failure.strerror or failure}", hint="check the file's permissions") from None
    distrust = trust.untrusted(path, status=status)
    if distrust is not None:
        # Another local user could point identity_file or a tunnel's bind address anywhere:
        # refused like OpenSSH refuses a writable ~/.ssh/config. Readable is fixed on save.
        if distrust.path == Path(os.path.realpath(path)):
            raise error(f"{distrust.reason}; not trusted", hint=f"fix it with: {distrust.fix}")
        raise error(f"not trusted: its folder {distrust.path} {distrust.reason}", hint=f"fix it with: {distrust.fix}")
    if len(data) > MAX_BYTES:
        raise error(f"larger than {MAX_BYTES} bytes; this is not a profile file", hint="check the --config path")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as failure:
        raise error(
            "is not valid UTF-8 text", line=line_of_offset(data, failure.start),
            hint="save the file as UTF-8 (or remove the stray bytes on that line)",
        ) from None
    shape = _shape_problem(text)
    if shape is not None:
        message, line = shape
        raise error(message, line=line, hint="a profile holds devices and settings; check the --config path or remove the generated lines")
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as failure:
        found = _TOML_POSITION.search(str(failure))
        line = int(found[1]) if found else text.count("\n") + 1
        message = _TOML_POSITION.sub("", str(failure)).strip()
        raise error(f"not valid TOML: {message}", line=line, hint="fix the syntax on that line (https://toml.io)") from None
    except (RecursionError, ValueError, MemoryError) as failure:  # e.g. an integer of 5000 digits
        kind = "nested too deeply" if isinstance(failure, RecursionError) else "a value is too large"
        raise error(f"not valid TOML: {kind}", hint="this does not look like a profile file") from None
    try:
        config = schema.parse_config(values)
    except SchemaProblem as problem:
        raise error(problem.message, line=line_of(text, problem.where), field=problem.field, hint=problem.hint) from None
    if not editable:
        return ProfileText(text, None, config, signature)
    try:
        import tomlkit  # only saves need the editable document; loads stay fast

        doc = tomlkit.parse(text)
        same = doc.unwrap() == values
    except Exception:  # a third-party parser on untrusted text: any failure means "cannot edit"  # noqa: BLE001
        same = False
    if not same:
        raise error("spark-tui cannot edit this file's TOML safely", hint="rewrite it in plain [table] / key = value form")
    return ProfileText(text, doc, config, signature)


def _shape_problem(text: str) -> tuple[str, int] | None:
    """Why ``text`` is too big in shape to parse safely (with its line), or ``None``.

    A linear scan, quicker than any parser: it counts keys (lines holding ``=`` or starting a
    table) and the dots outside strings and comments on each line.
    """
    keys = dotted = 0
    for number, line in enumerate(text.splitlines(), 1):
        bare = _STRINGS_AND_COMMENT.sub("", line) if ('"' in line or "'" in line or "#" in line) else line
        if bare.count(".") > MAX_KEY_PARTS:
            return f"a key on this line has more than {MAX_KEY_PARTS} dotted parts; this is not a profile file", number
        if "=" in bare or bare.lstrip().startswith("["):
            keys += 1 + bare.count(",")  # inline tables and arrays hold several
            if keys > MAX_KEYS:
                return f"more than {MAX_KEYS} keys; this is not a profile file", number
            if not bare.lstrip().startswith("[") and "." in bare.replace("{", "=").split("=", 1)[0] or bare.count("{") and "." in bare:
                dotted += 1 + bare.count(",")
                if dotted > MAX_DOTTED_KEYS:
                    return (f"more than {MAX_DOTTED_KEYS} dotted keys (a.b = ...); write them under [table] headers", number)
    return None
