"""affectscope's streaming pipeline: sources, face tracking + landmarks, ring buffers, threads,
sessions, and the ``affectscope`` command line."""
import os as _os

__version__ = "0.1.0"

# OpenCV's thread pool keeps its workers spinning after each parallel call (2,000 pause loops a
# worker, 10,000 the caller) before they sleep. Perception makes a dozen small parallel calls a
# frame, so on two cores the spinning cost as much CPU as a fifth of perception's own work and
# took it from the models' and the window's threads (``affectscope bench --peer``: CPU per frame
# 6.5-7.1 -> 5.5-5.6 ms, p50 and p95 no worse). OpenCV reads these once, when it loads: this runs
# before any module of the package imports cv2; a value the user has set is kept.
for _name in ("OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER", "OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN"):
    _os.environ.setdefault(_name, "0")
# Even sleeping, a worker woken for each of those calls costs more than it saves: perception's work
# on a frame with a face is a few small calls (0.1-0.3 ms each), and splitting them over two
# threads added a tenth to its CPU per frame (1.85 -> 2.1 ms on such frames, the same on frames
# with a search). So OpenCV runs on the calling thread; the pipeline's parallelism is its own
# threads (perception, models, window, writer), each on its own core when one is free.
_os.environ.setdefault("OPENCV_FOR_THREADS_NUM", "1")
# FFmpeg's own messages ("moov atom not found", "Invalid data found…") would precede the one line
# that says which file cannot be read and what to do; quiet unless the user sets a level.
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
