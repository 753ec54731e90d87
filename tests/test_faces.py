import numpy as np
import pytest

from detector.analysis import analyze
from detector.faces import assign_tracks, detect_faces, face_regions, Face


def test_detects_the_astronaut_with_landmarks(astronaut):
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    f = faces[0]
    x, y, w, h = f.box
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 200  # her face, not the flag
    lm = f.landmarks
    assert lm.shape == (5, 2)
    assert np.all((lm[:, 0] >= x) & (lm[:, 0] <= x + w) & (lm[:, 1] >= y) & (lm[:, 1] <= y + h))
    assert lm[0, 0] < lm[1, 0] and lm[:2, 1].mean() < lm[3:, 1].mean()  # eyes above mouth


def test_coordinates_are_on_the_original_grid(astronaut):
    import cv2

    big = cv2.resize(astronaut, (1536, 1536))  # detection runs downscaled, boxes come back scaled
    f_small, f_big = detect_faces(astronaut)[0], detect_faces(big)[0]
    assert np.allclose(np.array(f_big.box) / 3, f_small.box, atol=6)


def test_no_face_in_noise():
    rng = np.random.default_rng(0)
    assert detect_faces(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)) == []


def test_bad_image_is_refused():
    with pytest.raises(ValueError):
        detect_faces(np.zeros((10, 10), np.uint8))


def test_regions_are_disjoint_and_nested(astronaut):
    reg = face_regions(detect_faces(astronaut)[0], astronaut.shape)
    assert not (reg.inner & reg.band).any() and not (reg.band & reg.outer).any()
    assert reg.inner.sum() > 1000 and reg.band.sum() > 500 and reg.outer.sum() > 1000
    assert reg.radius[reg.inner].max() < reg.radius[reg.outer].min()


def _face(x, y, w=80):
    return Face((x, y, w, w), np.zeros((5, 2)), 0.9)


def test_region_radius_is_the_elliptic_radius_of_every_crop_pixel():
    # a tilted face near the frame's edge: the crop is clipped, the ellipse rotated
    lm = np.array([[30.0, 52.0], [78.0, 40.0], [58.0, 70.0], [44.0, 96.0], [84.0, 86.0]])
    reg = face_regions(Face((10, 20, 90, 100), lm, 0.9), (240, 320, 3))
    cx, cy, a, b, ang = reg.ellipse
    x0, y0, x1, y1 = reg.crop
    assert x0 == 0 and y0 == 0  # clipped at the frame's corner
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    u = ((xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)) / a
    v = (-(xx - cx) * np.sin(ang) + (yy - cy) * np.cos(ang)) / b
    rad = np.sqrt(u * u + v * v)
    assert reg.radius.shape == (y1 - y0, x1 - x0)
    np.testing.assert_array_equal(reg.radius, rad)  # bit-identical: the features depend on it
    np.testing.assert_array_equal(reg.inner, rad < 0.85)
    assert abs(ang) > 0.1


def test_tracker_keeps_two_people_apart():
    frames = [[_face(10 + 5 * t, 50), _face(300 - 5 * t, 60)] for t in range(6)]
    frames[3] = frames[3][:1]  # the second person is missed once
    n = assign_tracks(frames)
    assert n == 2
    left = {f.track_id for fr in frames for f in fr if f.box[0] < 150}
    right = {f.track_id for fr in frames for f in fr if f.box[0] >= 150}
    assert len(left) == 1 and len(right) == 1 and left != right


def test_two_faces_in_a_video_give_two_tracks(two_face_video):
    a = analyze(two_face_video, model=None, n_frames=8)
    assert len(a.tracks) == 2
    assert all(t.n_faces >= 7 for t in a.tracks)


def test_sequence_detector_windows_match_whole_frames_and_find_newcomers(astronaut):
    """Between whole-frame searches, SequenceDetector looks only around the previous faces:
    the landmarks come out near where a whole-frame pass puts them (within two pixels of
    the scaled frame), and a person who enters is found at the next whole-frame search."""
    import cv2

    from detector.faces import DETECT_WIDTH, SequenceDetector

    face = cv2.resize(astronaut[0:300, 90:390], (240, 240))
    det = SequenceDetector(full_every=4)
    for k in range(12):
        canvas = np.full((720, 1280, 3), 110, np.uint8)
        x = 100 + 7 * k
        canvas[200:440, x:x + 240] = face
        if k >= 5:  # a second person enters at sample 5, far from the first
            canvas[300:540, 950:1190] = face[:, ::-1]
        found, whole = det(canvas), detect_faces(canvas)
        assert len(found) == (1 if k < 8 else 2), k  # samples 5-7 search near the first face only
        first = min(found, key=lambda f: f.box[0])
        ref = min(whole, key=lambda f: f.box[0])
        assert np.abs(first.landmarks - ref.landmarks).max() <= 2 * 1280 / DETECT_WIDTH + 1e-6  # 2 px of the scaled frame
    assert det.n_seen == 12 and det.n_windowed == 9  # samples 0, 4, 8 searched whole


def test_a_window_around_nobody_falls_back_to_the_whole_frame(astronaut):
    """A face lost from the window (it jumped away) is searched for in the whole frame."""
    import cv2

    from detector.faces import SequenceDetector

    face = cv2.resize(astronaut[0:300, 90:390], (240, 240))
    det = SequenceDetector(full_every=10)
    a = np.full((720, 1280, 3), 110, np.uint8)
    a[200:440, 80:320] = face
    b = np.full((720, 1280, 3), 110, np.uint8)
    b[300:540, 980:1220] = face
    assert len(det(a)) == 1
    (f,) = det(b)
    assert f.box[0] > 900 and det.n_windowed == 0


def _recorded_passes(monkeypatch):
    """The (h, w) of every image YuNet is given, in order."""
    from detector import faces

    shapes, detect = [], faces._yunet

    def record(img, min_confidence):
        shapes.append(img.shape[:2])
        return detect(img, min_confidence)

    monkeypatch.setattr(faces, "_yunet", record)
    return shapes


def test_faces_are_found_at_256_px(astronaut, monkeypatch):
    """One pass on the frame scaled to 256 px; its landmarks within a few original pixels
    (one 256-px pixel is 5 here) of a 640-px pass's."""
    import cv2

    from detector.faces import _detect

    big = cv2.resize(astronaut, (1280, 1280), interpolation=cv2.INTER_AREA)
    ref = _detect(big, 0.6, 640)
    shapes = _recorded_passes(monkeypatch)
    (f,) = detect_faces(big)
    assert shapes == [(256, 256)]
    assert len(ref) == 1 and faces_iou(f, ref[0]) > 0.85
    assert np.abs(f.landmarks - ref[0].landmarks).max() <= 12


def faces_iou(a, b) -> float:
    from detector.faces import _iou

    return _iou(a.box, b.box)


def test_a_face_too_small_for_256_px_is_found_at_640(astronaut, monkeypatch):
    """The 256-px pass finds nothing: the frame is searched again at 640 px, which finds the
    face; without the fallback it is missed."""
    import cv2

    from detector.faces import SequenceDetector, _detect

    canvas = np.full((720, 1280, 3), 110, np.uint8)
    canvas[300:396, 600:696] = cv2.resize(astronaut[0:300, 90:390], (96, 96), interpolation=cv2.INTER_AREA)
    assert _detect(canvas, 0.6, 256) == []
    ref = _detect(canvas, 0.6, 640)
    shapes = _recorded_passes(monkeypatch)
    (found,) = SequenceDetector()(canvas)
    assert shapes == [(144, 256), (360, 640)]
    assert len(ref) == 1 and found.box == ref[0].box
    np.testing.assert_array_equal(found.landmarks, ref[0].landmarks)
    assert detect_faces(canvas, fallback_width=0) == []
    assert len(detect_faces(canvas, width=640, fallback_width=0)) == 1


def _heap_in_use() -> int | None:
    """Bytes glibc's malloc has handed out and not taken back (``mallinfo2().uordblks``),
    or None where glibc has no mallinfo2."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                   "fsmblks", "uordblks", "fordblks", "keepcost")]
    try:
        fn = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = MallInfo2
    return int(fn().uordblks)


def test_yunet_gives_the_wheels_faces_and_keeps_no_memory(astronaut):
    """``faces._yunet`` calls the ``yuface`` wheel's libfacedetection with a buffer it owns: the
    same faces as ``yuface.detect`` (which never frees its buffer: ~36 KB a call), and the
    heap does not grow with the calls."""
    import cv2

    from detector import faces

    if faces._facedetect_cnn is None:
        pytest.skip("this yuface build does not export facedetect_cnn: its own binding is used")
    frame = np.ascontiguousarray(cv2.resize(astronaut, (320, 320), interpolation=cv2.INTER_AREA))
    for img in (frame, np.ascontiguousarray(frame[::-1, ::-1]), np.zeros((180, 320, 3), np.uint8)):
        ours, wheel = faces._yunet(img, 0.6), faces._yuface.detect(img, conf=0.6)
        assert all(np.array_equal(a, b) for a, b in zip(ours, wheel))
    assert len(faces._yunet(frame, 0.6)[0]) == 1 and len(faces._yunet(frame, 0.999)[0]) == 0
    if _heap_in_use() is None:
        pytest.skip("no glibc mallinfo2 here to count the heap")
    for _ in range(20):
        faces._yunet(frame, 0.6)
    before = _heap_in_use()
    for _ in range(300):
        faces._yunet(frame, 0.6)
    grown = _heap_in_use() - before
    assert grown < 1_000_000, grown  # the wheel's own binding: ~300 x 36 KB = 11 MB
