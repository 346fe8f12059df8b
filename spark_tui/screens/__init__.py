"""Screens compose widgets; modal dialogs live here."""
