"""parrot — an offline Chinese voice-assistant appliance."""

__version__ = "0.1.0"
