"""Session folders: writing and reading them (``folder``), running a source into one (``run``),
many videos at once (``batch``), playing one back or re-analysing it (``replay``) and exporting
its frames as a table (``export``)."""
