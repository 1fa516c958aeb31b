"""The threaded pipeline: capture, perception and model threads (``core``, ``threads``), their
statistics (``stats``), and building and running one from a source and a bundle (``runner``)."""
