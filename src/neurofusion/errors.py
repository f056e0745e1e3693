"""The one exception type for errors a user can cause."""

from __future__ import annotations


class NeurofusionError(Exception):
    """A user-caused error: bad file, missing column, unknown subject, bad setting.

    The message is a single line that names the file (and subject, row or column
    where there is one) and says what to do. The CLI prints it without a traceback.
    """

    def __init__(self, message: str, *, path=None, subject: str | None = None, fix: str | None = None):
        parts = []
        if path is not None:
            parts.append(f"{path}:")
        if subject is not None:
            parts.append(f"subject {subject}:")
        parts.append(message.rstrip("."))
        text = " ".join(parts)
        if fix:
            text += f" ({fix.rstrip('.')})"
        super().__init__(" ".join(text.split()))
        self.path = path
        self.subject = subject
