"""One class per screen. Each handles the events it cares about and renders itself.
Screens know the app's state vocabulary (parrot.app.state), never the core that drives them."""

from __future__ import annotations

from parrot.app.screens.about import AboutScreen
from parrot.app.screens.chat import ChatScreen
from parrot.app.screens.help import HelpScreen
from parrot.app.screens.history import HistoryScreen
from parrot.app.screens.input import InputScreen
from parrot.app.screens.menu import MenuScreen
from parrot.app.screens.models import ModelsScreen
from parrot.app.screens.no_model import NoModelScreen
from parrot.app.screens.settings import SettingsScreen
from parrot.app.screens.shutdown import ShutdownScreen
from parrot.app.screens.splash import SplashScreen
from parrot.app.state import ScreenName

CLASSES = (SplashScreen, MenuScreen, InputScreen, ChatScreen, ModelsScreen, SettingsScreen, AboutScreen,
           ShutdownScreen, HistoryScreen, HelpScreen, NoModelScreen)


def build_screens(app) -> dict:
    screens = {cls.name: cls(app) for cls in CLASSES}
    assert set(screens) == set(ScreenName), "every named screen has a class"
    return screens
