"""Errors that reach the user as a one-line message (never a traceback)."""


class UserError(Exception):
    """Something the user can fix: a bad config key, a missing or corrupt file, absent hardware."""


class ConfigError(UserError):
    pass


class DeviceError(UserError):
    """Hardware not reachable (I2C bus, sound card, display)."""
