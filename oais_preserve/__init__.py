"""oais_preserve: TT05 / E-ARK preservation packages in BagIt bags."""

__version__ = "0.1.0"
