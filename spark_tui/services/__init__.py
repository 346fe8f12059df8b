"""All I/O: discovery, SSH connections, tunnels, shells, telemetry, the demo device.

May import asyncssh and zeroconf, never textual. Talks to the UI through callbacks and
return values, never through a reference to the app.
"""
