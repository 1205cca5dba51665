"""The web simulator: the appliance's screen and keypad on a page served on loopback."""
