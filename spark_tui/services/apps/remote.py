"""The shell an app runs with on the device: start in its own session, follow its log, stop its group.

Each app keeps a small record on the device under ``~/.cache/spark-tui/apps/`` (a folder only
its user can read): ``NAME.sh`` (the script last sent), ``NAME.log`` (everything it printed),
``NAME.pid`` (its session leader = process group id) and ``NAME.exit`` (its exit status once it
ended by itself). The record is what lets ``spark-tui app stop`` in another process, or after a
restart of spark-tui, find and stop an app it did not start itself.

Everything is POSIX ``sh`` wrapped in ``sh -c`` (the login shell may be fish or zsh), with
``setsid`` from util-linux and GNU ``tail --pid`` (both on DGX OS / Ubuntu). ``kill -TERM -PGID``
is spelled without ``--`` because dash's builtin ``kill`` refuses it.
"""

from __future__ import annotations

import re
import shlex

APPS_DIR = "$HOME/.cache/spark-tui/apps"

EXIT_NOT_STARTED = 90
EXIT_ALREADY_RUNNING = 91
EXIT_NO_PID = 92

_ALIVE = (
    # True while a process of group $1 lives. Zombies do not count: they wait for init to reap
    # them (at once under systemd, later under some container inits) and run nothing.
    "alive() { if command -v ps >/dev/null 2>&1; then "
    "ps -eo pgid=,stat= | awk -v p=\"$1\" '$1==p && $2 !~ /^Z/ {f=1} END {exit !f}'; "
    "else kill -0 -\"$1\" 2>/dev/null; fi; }"
)

_LEADER = (
    # The session leader: ignores nothing, but survives a TERM to its group long enough to write
    # the script's exit status. A trap (not an ignore) so the script itself gets default signals.
    'trap : INT TERM HUP QUIT; echo $$ > "$1.pid"; '
    'case "$(head -c 2 "$1.sh")" in "#!") chmod 700 "$1.sh"; "$1.sh";; *) sh "$1.sh";; esac; '
    'echo $? > "$1.exit"'
)


def _wrap(body: str) -> str:
    return "sh -c " + shlex.quote(body)


def start_command(name: str, marker: str, *, with_script: bool) -> str:
    """The command that starts app ``name`` and then streams its log until it ends.

    Its stdin is the script text. Its stdout is ``MARKER pid N``, then the log as written, then
    ``MARKER exit STATUS`` (``STATUS`` is ``killed`` when it ended by a signal to the leader).
    Exits ``EXIT_ALREADY_RUNNING`` (after ``MARKER running N``) when the record shows the app
    running, ``EXIT_NOT_STARTED`` when the record folder cannot be made.

    Args:
        name: App name (quoted here; safe as a file name: no ``/``, no leading dot).
        marker: A random word the script's own output cannot guess.
        with_script: False for an app without a script (nothing is started; the command only
            checks that nothing of that name runs).
    """
    n = shlex.quote(name)
    lines = [
        _ALIVE,
        f'd="{APPS_DIR}"; n={n}; t={shlex.quote(marker)}',
        f'mkdir -p "$d" && chmod 700 "$d" && cd "$d" || exit {EXIT_NOT_STARTED}',
        'if [ -s "$n.pid" ] && alive "$(cat "$n.pid")"; then',
        f'  echo "$t running $(cat "$n.pid")"; exit {EXIT_ALREADY_RUNNING}',
        "fi",
    ]
    if not with_script:
        return _wrap("\n".join([*lines, 'echo "$t none"']))
    lines += [
        "umask 077",
        f'cat > "$n.sh" || exit {EXIT_NOT_STARTED}',
        'rm -f "$n.exit" "$n.pid"; : > "$n.log"',
        'cd "$HOME"',
        f"setsid sh -c {shlex.quote(_LEADER)} sh \"$d/$n\" > \"$d/$n.log\" 2>&1 < /dev/null &",
        "i=0",
        'while [ ! -s "$d/$n.pid" ]; do',
        f'  i=$((i+1)); if [ $i -gt 200 ]; then echo "$t nopid"; exit {EXIT_NO_PID}; fi; sleep 0.05',
        "done",
        'p=$(cat "$d/$n.pid"); echo "$t pid $p"',
        'tail -c +1 -s 0.2 --pid="$p" -f "$d/$n.log"',
        'if [ -s "$d/$n.exit" ]; then echo; echo "$t exit $(cat "$d/$n.exit")"; else echo; echo "$t exit killed"; fi',
    ]
    return _wrap("\n".join(lines))


def stop_command(name: str, grace: float) -> str:
    """The command that stops app ``name``'s whole process group: TERM, then KILL after ``grace`` s.

    Prints one word: ``none`` (nothing ran), ``stopped`` (gone after TERM) or ``killed``.
    Also ends what is left of the group after the script ended by itself.
    """
    ticks = max(1, int(grace * 10))
    body = "\n".join([
        _ALIVE,
        f'd="{APPS_DIR}"; n={shlex.quote(name)}',
        '[ -s "$d/$n.pid" ] || { echo none; exit 0; }',
        'p=$(cat "$d/$n.pid")',
        'case "$p" in ""|*[!0-9]*) echo none; exit 0;; esac',
        'alive "$p" || { rm -f "$d/$n.pid"; echo none; exit 0; }',
        'kill -TERM -"$p" 2>/dev/null',
        "i=0; how=stopped",
        'while alive "$p"; do',
        f'  i=$((i+1)); if [ $i -eq {ticks} ]; then kill -KILL -"$p" 2>/dev/null; how=killed; fi',
        f'  if [ $i -gt {ticks + 50} ]; then echo "still-running"; exit 1; fi; sleep 0.1',
        "done",
        'rm -f "$d/$n.pid"; echo "$how"',
    ])
    return _wrap(body)


def status_command(name: str) -> str:
    """Prints ``running PGID``, ``exited STATUS`` or ``none`` for app ``name``."""
    body = "\n".join([
        _ALIVE,
        f'd="{APPS_DIR}"; n={shlex.quote(name)}',
        'if [ -s "$d/$n.pid" ] && alive "$(cat "$d/$n.pid")"; then echo "running $(cat "$d/$n.pid")"',
        'elif [ -s "$d/$n.exit" ]; then echo "exited $(cat "$d/$n.exit")"',
        "else echo none; fi",
    ])
    return _wrap(body)


def log_command(name: str, lines: int = 40) -> str:
    """Prints the last ``lines`` lines of app ``name``'s log."""
    return _wrap(f'tail -n {int(lines)} "{APPS_DIR}/"{shlex.quote(name)}.log 2>/dev/null')


_MARKED = re.compile(r"^(?P<word>pid|exit|running|none|nopid)(?: (?P<value>\S+))?$")


def parse_marker(line: str, marker: str) -> tuple[str, str] | None:
    """``(word, value)`` when ``line`` is one of our marker lines, else ``None``."""
    if not line.startswith(marker + " "):
        return None
    match = _MARKED.match(line[len(marker) + 1:].strip())
    return (match.group("word"), match.group("value") or "") if match else None
