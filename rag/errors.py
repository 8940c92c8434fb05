"""Every error Footnote shows to a person.

    RagError                      base: the message says what failed and what to do
    ├── ConfigError               a RAG_* setting or flag has a bad value
    ├── DocumentLoadError         one file could not be read (names the file)
    │   ├── UnsupportedFileError  the file type is not one we read
    │   ├── EncryptedFileError    the PDF needs a password
    │   ├── FileTooLargeError     the file is over a size or page limit
    │   └── NoTextError           nothing readable (e.g. a scanned PDF without OCR)
    ├── IndexError_               the index on disk cannot be used
    │   ├── IndexMismatchError    it was built with another embedder
    │   └── IndexWriteError       the data dir is read-only or the disk is full
    ├── DocumentNotFoundError     delete/filter names a document that is not indexed
    ├── ModelLoadError            a model file is missing, corrupt or has the wrong hash
    ├── GenerationError           the language model failed while answering
    └── QueryError                the question is empty or too long

The UI turns a RagError into `gr.Error(str(exc))` and the CLI prints it and exits 1.
Anything that is not a RagError is a bug and keeps its traceback.
"""

from __future__ import annotations


class RagError(Exception):
    """Base for every error whose message is meant for the user."""


class ConfigError(RagError):
    """A setting (environment variable or flag) has a value we cannot use."""


class DocumentLoadError(RagError):
    """A file could not be turned into a Document. The message names the file."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


class UnsupportedFileError(DocumentLoadError):
    """The file's type is not one Footnote reads."""


class EncryptedFileError(DocumentLoadError):
    """The PDF is protected by a password that we do not have."""


class FileTooLargeError(DocumentLoadError):
    """The file is over the size or page limit from Settings."""


class NoTextError(DocumentLoadError):
    """The file holds no extractable text (scanned PDF, empty document)."""


class IndexError_(RagError):  # trailing underscore: do not shadow the builtin IndexError
    """The index in the data directory cannot be opened or written."""


class IndexMismatchError(IndexError_):
    """The index was built with a different embedding model or dimension."""


class IndexWriteError(IndexError_):
    """Writing to the data directory failed (read-only, disk full)."""


class DocumentNotFoundError(RagError):
    """A document named by the user is not in the index."""


class ModelLoadError(RagError):
    """A model could not be found, assembled, verified or loaded."""


class GenerationError(RagError):
    """The language model failed while producing an answer."""


class QueryError(RagError):
    """The question cannot be searched (empty or too long)."""
