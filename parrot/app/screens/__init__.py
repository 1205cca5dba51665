"""One class per screen. Each handles the events it cares about and renders itself."""

from __future__ import annotations


def build_screens(app):
    from parrot.app.core import ScreenName
    from parrot.app.screens.about import AboutScreen
    from parrot.app.screens.chat import ChatScreen
    from parrot.app.screens.input import InputScreen
    from parrot.app.screens.menu import MenuScreen
    from parrot.app.screens.models import ModelsScreen
    from parrot.app.screens.settings import SettingsScreen
    from parrot.app.screens.shutdown import ShutdownScreen
    from parrot.app.screens.splash import SplashScreen

    classes = [SplashScreen, MenuScreen, InputScreen, ChatScreen, ModelsScreen, SettingsScreen, AboutScreen, ShutdownScreen]
    screens = {cls.name: cls(app) for cls in classes}
    assert set(screens) == set(ScreenName), "every named screen has a class"
    return screens
