"""Plain data shared by every layer: frozen dataclasses and errors. Imports nothing heavy."""
