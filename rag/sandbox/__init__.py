"""A child process for the native code that reads users' files (PDFium, pypdf, parsers), with a timeout, a
memory cap and restarts: `process.WorkerProcess` (the parent's side), `child.serve` (the child's), `wire` (the
JSON messages between them). Clients: `rag.ingest.parsing.ParseWorker` and `rag.pages.PageRenderer`."""
