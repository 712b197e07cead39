"""One app instance per data folder.

A second `seal-desktop` on the same SEAL_HOME used to mark the first one's
running job as interrupted and then run jobs beside it. Now the first instance
holds an OS file lock (`filelock`, released by the kernel if it dies, so a
crash never blocks the next start) and listens on a local socket; a second one
finds the lock taken, asks the first to come to the front ("activate"), tells
the user, and exits before it opens the library.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

LOCK_NAME = "app.lock"
ACTIVATE = b"activate\n"


def server_name(home: Path) -> str:
    """A local-socket name unique to the data folder (and the user: sockets are per user on every OS)."""
    key = os.path.normcase(str(Path(home).expanduser().resolve()))
    return "seal-sticker-studio-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class SingleInstance(QObject):
    """`acquire()` -> True: we are the first instance (and listen for activation); False: another one runs."""

    activated = Signal()  # a second instance asked us to come to the front

    def __init__(self, home: Path, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        from filelock import FileLock

        self.home = Path(home)
        self.lock_path = self.home / LOCK_NAME
        self.name = server_name(self.home)
        self._lock = FileLock(str(self.lock_path))
        self._server: Optional[QLocalServer] = None
        self.held = False

    def acquire(self) -> bool:
        from filelock import Timeout

        self.home.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        self.held = True
        QLocalServer.removeServer(self.name)  # a stale socket file of a crashed instance (Unix)
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if server.listen(self.name):
            server.newConnection.connect(self._on_connection)
            self._server = server
        return True

    def notify_running(self, timeout_ms: int = 1500) -> bool:
        """Ask the running instance to bring its window to the front; False if it did not answer."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(ACTIVATE)
        ok = socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        return ok

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self.held:
            self._lock.release()
            self.held = False

    def _on_connection(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            conn = self._server.nextPendingConnection()
            conn.readyRead.connect(lambda c=conn: self._read(c))
            conn.disconnected.connect(conn.deleteLater)
            if conn.bytesAvailable():
                self._read(conn)

    def _read(self, conn: QLocalSocket) -> None:
        if bytes(conn.readAll().data()).startswith(ACTIVATE.strip()):
            self.activated.emit()


def bring_to_front(window) -> None:
    window.showNormal() if window.isMinimized() else window.show()
    window.raise_()
    window.activateWindow()


def tell_already_running(home: Path, activated: bool) -> None:
    """The message a second instance shows before it exits (replaced in tests)."""
    from PySide6.QtWidgets import QMessageBox

    front = " Its window was brought to the front." if activated else ""
    QMessageBox.information(None, "SEAL Sticker Studio",
                            f"SEAL Sticker Studio is already running on the data folder {home}; only one "
                            f"window may use it at a time, so this one closes.{front}")
