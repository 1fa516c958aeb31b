import numpy as np

from realtime.perception.ring_buffer import RingBuffer


def test_wraps_without_growing():
    rb = RingBuffer(4, (2,), np.float32)
    before = rb.data.nbytes
    for i in range(10):
        rb.push(i, i * 10, np.full(2, i, np.float32))
    vals, idx, t = rb.last(3)
    assert idx.tolist() == [7, 8, 9] and vals[:, 0].tolist() == [7, 8, 9] and t.tolist() == [70, 80, 90]
    assert len(rb) == 4 and rb.written == 10 and rb.data.nbytes == before


def test_sample_with_stride_ends_at_newest():
    rb = RingBuffer(64, (1,), np.float32)
    for i in range(40):
        rb.push(i, i, np.array([i], np.float32))
    vals, idx, _ = rb.sample(4, stride=7.5)
    assert idx[-1] == 39 and idx.tolist() == [17, 25, 32, 39]
    assert rb.sample(16, stride=7.5) is None  # needs 114 entries


def test_last_returns_copies():
    rb = RingBuffer(2, (1,), np.float32)
    rb.push(0, 0, np.array([1.0], np.float32))
    vals, _, _ = rb.last(1)
    vals[0] = 99
    assert rb.last(1)[0][0, 0] == 1.0
