"""Reports of a session: the HTML report with its plots (``report``) and the small chart library
that draws them without a GUI toolkit (``charts``)."""
