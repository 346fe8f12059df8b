"""The TOML profile store and where files live. No textual here."""
