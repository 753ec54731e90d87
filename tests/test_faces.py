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

    from detector.faces import SequenceDetector

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
        assert np.abs(first.landmarks - ref.landmarks).max() <= 4.0 + 1e-6  # 2 px at 640 px wide
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

    shapes, detect = [], faces._yuface.detect

    def record(img, conf=0.5):
        shapes.append(img.shape[:2])
        return detect(img, conf=conf)

    monkeypatch.setattr(faces._yuface, "detect", record)
    return shapes


def test_coarse_to_fine_finds_the_astronaut_on_the_640_grid(astronaut, monkeypatch):
    """Coarse-to-fine: a whole-frame pass at 320 px, then a window of the 640-px grid around
    the face; its landmarks lie within a pixel of that grid (2 px here) of the whole-frame
    640 pass, while the 320-px pass's own are further off."""
    import cv2

    from detector.faces import _detect

    big = cv2.resize(astronaut, (1280, 1280), interpolation=cv2.INTER_AREA)
    ref = detect_faces(big, coarse_width=0)
    coarse = _detect(big, 0.6, 320)
    shapes = _recorded_passes(monkeypatch)
    (f,) = detect_faces(big, coarse_width=320)
    assert shapes[0] == (320, 320)  # the coarse pass, then one window of the 640-px frame
    assert len(shapes) == 2 and shapes[1][0] < 640 and shapes[1][1] < 640 and shapes[1][0] * shapes[1][1] < 0.8 * 640 ** 2
    assert len(ref) == 1 and len(coarse) == 1
    assert np.abs(f.landmarks - ref[0].landmarks).max() <= 2.0 + 1e-6
    assert np.abs(coarse[0].landmarks - ref[0].landmarks).max() > 2.0  # what the fine pass is for
    assert faces_iou(f, ref[0]) > 0.9


def faces_iou(a, b) -> float:
    from detector.faces import _iou

    return _iou(a.box, b.box)


def test_coarse_to_fine_falls_back_to_the_whole_frame_for_a_small_face(astronaut, monkeypatch):
    """A face too small for the 320-px copy: the coarse pass finds nothing, the whole-frame
    640 pass finds it, exactly as without a coarse pass."""
    import cv2

    from detector.faces import _detect

    canvas = np.full((720, 1280, 3), 110, np.uint8)
    canvas[300:396, 600:696] = cv2.resize(astronaut[0:300, 90:390], (96, 96), interpolation=cv2.INTER_AREA)
    assert _detect(canvas, 0.6, 320) == []
    ref = detect_faces(canvas, coarse_width=0)
    shapes = _recorded_passes(monkeypatch)
    found = detect_faces(canvas, coarse_width=320)
    assert shapes == [(180, 320), (360, 640)]
    assert len(ref) == 1 and len(found) == 1
    np.testing.assert_array_equal(found[0].landmarks, ref[0].landmarks)
    assert found[0].box == ref[0].box


def test_coarse_to_fine_misses_a_small_face_beside_a_large_one(astronaut):
    """The documented cost of the coarse pass: a face too small for it is not searched for
    when a large face was found (the whole-frame 640 pass, coarse_width=0, finds both)."""
    import cv2

    canvas = np.full((720, 1280, 3), 110, np.uint8)
    canvas[150:550, 200:600] = cv2.resize(astronaut[0:300, 90:390], (400, 400), interpolation=cv2.INTER_AREA)
    canvas[300:396, 1000:1096] = cv2.resize(astronaut[0:300, 90:390], (96, 96), interpolation=cv2.INTER_AREA)
    assert len(detect_faces(canvas, coarse_width=0)) == 2
    (big,) = detect_faces(canvas, coarse_width=320)
    assert big.box[0] < 600


def test_sequence_detector_skips_the_coarse_pass_after_frame_filling_faces(astronaut, monkeypatch):
    """After a frame whose faces' window covers most of the frame, the next frame is searched
    whole at 640 px at once (a coarse pass would not narrow the search)."""
    import cv2

    from detector.faces import SequenceDetector

    canvas = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_AREA)
    canvas = np.ascontiguousarray(canvas[60:420, 140:780])  # 640x360, the face ~200 px wide
    det = SequenceDetector(coarse_width=320)
    shapes = _recorded_passes(monkeypatch)
    first, second = det(canvas), det(canvas)
    assert len(first) == 1 and len(second) == 1
    assert shapes == [(180, 320), (360, 640), (360, 640)]  # coarse, then whole (window too big); then whole
    np.testing.assert_array_equal(second[0].landmarks, detect_faces(canvas, coarse_width=0)[0].landmarks)
