"""Colour themes shipped with haven-top, one TOML file each."""
