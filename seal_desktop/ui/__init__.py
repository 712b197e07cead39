"""Widgets only: every piece of state lives in seal_desktop.controller / store."""
