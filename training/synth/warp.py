"""Image warps driven by the 68 landmarks, as one dense ``cv2.remap``: piecewise-affine or thin-plate spline.

The control points are the 68 landmarks, a ring of fixed points around the face and fixed points on
the frame border (corners and edge midpoints); the ring and border points hold the rest of the
image still. Two interpolants spread the landmark displacements over the face region, each as a
linear basis precomputed once per face on a coarse grid, so a frame costs one matrix product:

- ``mesh`` (piecewise-affine): a Delaunay triangulation of the control points; every triangle
  deforms affinely (the mesh's piecewise-linear "hat" basis, barycentric weights). Creases run
  along the triangle edges.
- ``tps`` (thin-plate spline): the smooth interpolant of least bending energy through the control
  points (kernel r^2 log r^2 plus an affine part); no creases, and every landmark moves a wide
  neighbourhood. Rendering the same expression with both lets a model be tested on a renderer it
  was not trained on.

The basis gives a forward displacement field f. The backward map needed by ``cv2.remap`` (for an output pixel q, the
source s with s + f(s) = q) comes from three fixed-point steps s <- q - f(s) on the coarse grid,
upsampled to full resolution. Only the bounding box of the ring is resampled.
"""
from __future__ import annotations

import cv2
import numpy as np

from training.synth.action_units import face_frame


def _ring_points(pts68: np.ndarray, n: int, radii: tuple[float, float]) -> np.ndarray:
    origin, rot, iod = face_frame(pts68)
    centre = np.asarray(pts68[30], np.float64)  # nose tip: the face's middle, brow to chin
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    local = np.stack([radii[0] * np.cos(ang), radii[1] * np.sin(ang)], axis=1) * iod
    return centre + local @ rot.T


def _triangulate(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """(n_tri, 3) vertex indices of the Delaunay triangulation of points inside the frame."""
    subdiv = cv2.Subdiv2D((-1, -1, width + 2, height + 2))
    pts32 = np.asarray(points, np.float32)  # Subdiv2D stores float32: key the lookup on those values
    lookup = {}
    for i, (x, y) in enumerate(pts32):
        subdiv.insert((float(x), float(y)))
        lookup[(float(x), float(y))] = i
    tris = []
    for t in subdiv.getTriangleList():
        idx = []
        for k in range(3):
            key = (float(t[2 * k]), float(t[2 * k + 1]))
            if key not in lookup:
                break  # a triangle on Subdiv2D's virtual outer vertices
            idx.append(lookup[key])
        if len(idx) == 3:
            tris.append(idx)
    return np.array(tris, np.int32)


WARPS = ("mesh", "tps")


def _tps_basis(control: np.ndarray, query: np.ndarray, n_moving: int, unit: float) -> np.ndarray:
    """(n_moving, n_query): the thin-plate spline through ``control`` evaluated at ``query``, as a
    linear map of the displacements of the first ``n_moving`` control points (the rest fixed at 0).

    Coordinates are divided by ``unit`` (the interocular distance) so the system is well scaled.
    Two control points on one spot make the system singular (a closed mouth whose fit puts inner
    lip points 62 and 66 together): the spline is then smoothed by a tiny amount, not exact."""
    p = control / unit
    q = query / unit

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        r2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.where(r2 > 0, r2 * np.log(np.maximum(r2, 1e-300)), 0.0)

    n = len(p)
    system = np.zeros((n + 3, n + 3))
    system[:n, :n] = kernel(p, p)
    system[:n, n] = 1.0
    system[:n, n + 1:] = p
    system[n, :n] = 1.0
    system[n + 1:, :n] = p.T
    try:
        solve = np.linalg.solve(system, np.eye(n + 3)[:, :n_moving])  # (n + 3, n_moving): weights per unit move
    except np.linalg.LinAlgError:
        system[:n, :n] += 1e-6 * np.eye(n)
        solve = np.linalg.solve(system, np.eye(n + 3)[:, :n_moving])
    basis = np.empty((n_moving, len(q)), np.float32)
    for start in range(0, len(q), 8192):  # the kernel of a chunk of grid points at a time
        part = q[start:start + 8192]
        row = np.concatenate([kernel(part, p), np.ones((len(part), 1)), part], axis=1)
        basis[:, start:start + len(part)] = (row @ solve).T
    return basis


class FaceWarper:
    """Warps one image so its 68 landmarks follow given displacements.

    image: H x W x 3 uint8; landmarks68: (68, 2) image pixels of the face in that image;
    kind: ``mesh`` (piecewise-affine) or ``tps`` (thin-plate spline).
    """

    def __init__(self, image: np.ndarray, landmarks68: np.ndarray, grid_step: int = 2,
                 ring_radii: tuple[float, float] = (1.55, 1.8), ring_points: int = 20, kind: str = "mesh"):
        if kind not in WARPS:
            raise ValueError(f"unknown warp {kind!r}; choose one of {', '.join(WARPS)}")
        self.kind = kind
        self.image = np.ascontiguousarray(image)
        self.landmarks = np.asarray(landmarks68, np.float32)
        h, w = image.shape[:2]
        ring = _ring_points(self.landmarks, ring_points, ring_radii)
        ring[:, 0] = np.clip(ring[:, 0], 1.0, w - 2.0)
        ring[:, 1] = np.clip(ring[:, 1], 1.0, h - 2.0)
        border = np.array([[0, 0], [w / 2, 0], [w - 1, 0], [w - 1, h / 2], [w - 1, h - 1],
                           [w / 2, h - 1], [0, h - 1], [0, h / 2]], np.float64)
        self.control = np.concatenate([self.landmarks.astype(np.float64), ring, border])

        # Region that can move: the ring's bounding box (grid-aligned), clipped to the frame.
        step = grid_step
        x0, y0 = np.floor(ring.min(0)).astype(int)
        x1, y1 = np.ceil(ring.max(0)).astype(int)
        x0, y0 = max(0, x0 - x0 % step), max(0, y0 - y0 % step)
        x1, y1 = min(w, x1 + 1), min(h, y1 + 1)
        self.roi = (x0, y0, x1 - x0, y1 - y0)
        self.step = step
        gw, gh = (x1 - x0 + step - 1) // step, (y1 - y0 + step - 1) // step
        self._grid_shape = (gh, gw)

        gy, gx = np.mgrid[0:gh, 0:gw].astype(np.float64)
        q = np.stack([gx * step + x0, gy * step + y0], axis=-1)
        if kind == "mesh":
            self._basis = self._mesh_basis(q, x0, y0)
        else:
            _, rot, iod = face_frame(self.landmarks)
            basis = _tps_basis(self.control, q.reshape(-1, 2), 68, iod)
            # The ring holds the spline at 0 only at its points: fade it out towards the ring, so
            # nothing moves at the edge of the resampled region.
            local = (q.reshape(-1, 2) - np.asarray(self.landmarks[30], np.float64)) @ rot / iod
            rho = np.hypot(local[:, 0] / ring_radii[0], local[:, 1] / ring_radii[1])
            fade = np.clip((1.0 - rho) / 0.15, 0.0, 1.0)
            self._basis = np.ascontiguousarray(basis * (fade * fade * (3 - 2 * fade)).astype(np.float32))
        self._grid_map = np.stack([gx, gy], axis=-1).astype(np.float32)  # grid coordinates
        ry, rx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        self._full_x, self._full_y = rx, ry

    def _mesh_basis(self, q: np.ndarray, x0: int, y0: int) -> np.ndarray:
        """(68, n_grid) piecewise-linear basis of the triangulation at the grid points q (gh, gw, 2)."""
        gh, gw = self._grid_shape
        step = self.step
        self.triangles = _triangulate(self.control, *self.image.shape[1::-1])
        # Which triangle holds each grid point, and its barycentric weights.
        label = np.full((gh, gw), -1, np.int32)
        scaled = (self.control - (x0, y0)) / step
        for t, tri in enumerate(self.triangles):
            poly = np.round(scaled[tri] * 16).astype(np.int32)
            cv2.fillConvexPoly(label, poly, int(t), lineType=cv2.LINE_8, shift=4)
        missing = label < 0
        if missing.any():  # grid points no triangle covers (the frame's last row/column): they stay put
            label[missing] = 0
        tri = self.triangles[label]  # (gh, gw, 3)
        a, b, c = (self.control[tri[..., k]] for k in range(3))
        v0, v1, v2 = b - a, c - a, q - a
        den = v0[..., 0] * v1[..., 1] - v1[..., 0] * v0[..., 1]
        den = np.where(np.abs(den) < 1e-9, 1e-9, den)
        l1 = (v2[..., 0] * v1[..., 1] - v1[..., 0] * v2[..., 1]) / den
        l2 = (v0[..., 0] * v2[..., 1] - v2[..., 0] * v0[..., 1]) / den
        weights = np.stack([1.0 - l1 - l2, l1, l2], axis=-1)
        weights[missing] = 0.0
        # Only landmark vertices ever move: keep weights of those, index 68 = "static".
        weights[tri >= 68] = 0.0
        # Hat basis as a dense (68, n_grid) matrix: forward field = displacement^T @ basis.
        n_grid = gh * gw
        basis = np.zeros((69, n_grid), np.float32)
        flat = np.arange(n_grid)
        for k in range(3):
            np.add.at(basis, (np.where(tri[..., k] < 68, tri[..., k], 68).ravel(), flat), weights[..., k].ravel())
        return np.ascontiguousarray(basis[:68])

    def forward_field(self, displacement68: np.ndarray) -> np.ndarray:
        """(gh, gw, 2) float32 forward displacement on the coarse grid (pixels)."""
        d = np.asarray(displacement68, np.float32)
        f = np.einsum("pc,pn->cn", d, self._basis)  # (2, n_grid); einsum avoids BLAS thread start-up
        return np.ascontiguousarray(f.T).reshape(*self._grid_shape, 2)

    def warp(self, displacement68: np.ndarray, iterations: int = 3) -> np.ndarray:
        """H x W x 3 uint8: the image with its landmarks moved by displacement68 ((68, 2) pixels)."""
        out = self.image.copy()
        disp = np.asarray(displacement68, np.float32)
        if not np.any(disp):
            return out
        f = self.forward_field(disp)
        x0, y0, rw, rh = self.roi
        step = self.step
        b = -f  # backward displacement, first guess
        for _ in range(iterations - 1):
            src = self._grid_map + b / step  # where to sample f, in grid units
            fs = cv2.remap(f, src[..., 0], src[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            b = -fs
        full = cv2.resize(b, (self._grid_shape[1] * step, self._grid_shape[0] * step), interpolation=cv2.INTER_LINEAR)
        full = full[:rh, :rw]
        mx = self._full_x + full[..., 0]
        my = self._full_y + full[..., 1]
        out[y0:y0 + rh, x0:x0 + rw] = cv2.remap(self.image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return out
