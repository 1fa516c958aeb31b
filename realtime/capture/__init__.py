"""Frame sources: cameras, video files (looping or not), image folders, and the moving-photo clips
the benchmarks and tests make (``motion_clip``)."""
