"""Finding and following the face: Haar detection and MOSSE tracking (``face_tracker``), dlib's
68 landmarks, their normalizations and aligned crops (``landmarks``), smoothing (``one_euro``) and
the ring buffers of crops and landmark vectors the models read (``ring_buffer``)."""
