"""The thread machinery under every stage: a stoppable thread that records its failure
(``threads``) and the per-thread state and latency statistics the pipeline reports (``stats``)."""
