"""Widgets render state and post intent messages. They know core and textual only: no I/O."""
