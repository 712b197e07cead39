"""SEAL Sticker Studio desktop application (PySide6).

Layout follows krita-ai-diffusion: `store/` (SQLite state, Qt-free), `settings`
(typed JSON settings, Qt-free), `engine_adapter` (Qt-free job runner on top of
seal_engine), `worker`/`controller` (the QThread and the observable queue), and
`ui/` (widgets only). Nothing here imports torch or diffusers at start-up.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
