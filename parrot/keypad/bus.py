"""Opening the Linux I2C bus (/dev/i2c-N) with a message the user can act on."""

from __future__ import annotations

import errno
import os
import threading

from parrot.errors import DeviceError


def i2c_device_path(port: int) -> str:
    return f"/dev/i2c-{port}"


def open_i2c_bus(port: int):
    """An smbus2.SMBus on /dev/i2c-<port>. Raises DeviceError when it cannot be opened.

    Give each driver its own SMBus (its own file descriptor): smbus2 selects the device
    address with a separate ioctl before each transfer, so two threads sharing one SMBus
    could talk to the wrong chip. Or share one through `LockedBus`.
    """
    if isinstance(port, bool) or not isinstance(port, int) or port < 0:
        raise DeviceError(f"I2C bus number must be a whole number >= 0, got {port!r}")
    path = i2c_device_path(port)
    try:
        from smbus2 import SMBus
    except ImportError:
        raise DeviceError("the smbus2 package is not installed (pip install smbus2)") from None
    try:
        return SMBus(port)
    except FileNotFoundError:
        available = sorted(name for name in _listdir("/dev") if name.startswith("i2c-"))
        hint = f"available: {', '.join('/dev/' + n for n in available)}" if available else (
            "no I2C buses at all: load i2c-dev (modprobe i2c-dev) and enable the bus in the device tree"
        )
        raise DeviceError(f"I2C bus {path} not found ({hint})") from None
    except PermissionError:
        raise DeviceError(
            f"no permission to open I2C bus {path} (add the user to the 'i2c' group or run as root)"
        ) from None
    except OSError as e:
        reason = e.strerror or errno.errorcode.get(e.errno or 0, str(e))
        raise DeviceError(f"cannot open I2C bus {path}: {reason}") from None


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


class LockedBus:
    """Wraps a bus so several threads can share it: one transfer at a time."""

    def __init__(self, bus) -> None:
        self._bus = bus
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        method = getattr(self._bus, name)
        if not callable(method):
            return method

        def locked(*args, **kwargs):
            with self._lock:
                return method(*args, **kwargs)

        return locked
