"""SEAL Sticker Studio engine: model loading, personalization, masks, finishing, export.

Nothing in this package imports Qt; the desktop app adapts it. Heavy libraries
(torch, diffusers) are imported inside the functions that need them so that
`import seal_engine` stays fast for the CLI and the app's first window.
"""

__version__ = "0.1.0"
