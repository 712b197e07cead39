"""Built-in subject mask that needs no model weights.

Two regimes, chosen from the image border (mostly background, but not all of it
when the character touches the edge: a close-up, a cropped reference):
- plain (white, solid, gradient): a smooth colour model (quadratic in x, y per
  channel) is fitted robustly to the border pixels of one dominant border colour;
  pixels far from the model are "edges". Background = everything reachable from
  the border's background pixels without crossing an edge; border pixels the
  model does not explain are subject running off the image. Guards: a result
  covering (almost) the whole image is refused as flooded, and when another
  colour covers nearly as much border, the hypothesis whose subject is more
  central wins (the body colour is not taken for background: no inverted mask).
- busy (a scene): no colour model fits, so the barrier is the sticker's dark
  line art (characters, emoji and most generated stickers are outlined). The
  background is flooded from the border through everything that is not thin
  dark line; what it cannot reach is the subject.
The result is cleaned by `postprocess` (subject components kept, holes filled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from . import morphology as mm

#: Analysis size: the long side is brought to this; the mask is scaled back.
WORK_SIDE = 512
#: Gaps in a busy image's line art narrower than about twice this are closed.
GAP_CLOSE_PX = 1.5
#: Background chroma (max - min channel) above which enclosed background is a gap.
COLOURFUL_BG = 60.0
#: Enclosed background patches smaller than this (pixels) are noise, kept as subject.
MIN_GAP_AREA = 40
#: Colour step (0..255, any channel) that separates two regions of a busy image.
COLOUR_EDGE = 40.0
#: A region whose rim is at least this much dark line belongs to the character.
LINE_RIM_RATIO = 0.5
#: Edges are thickened by this before regions are cut, to close gaps.
EDGE_GAP_PX = 2
#: A plain background covers at least this share of the border (the rest may be subject); a
#: smooth patch on less is as likely a flat shape of a busy scene (fixture scenes: 0.17-0.22;
#: a tight toy close-up's background: 0.28).
MIN_BORDER_SHARE = 0.25
#: The fit to the whole border holds only when at least this share of it is background.
CLASSIC_SHARE = 0.7
#: A plain-background subject outside this share of the image is flooded or empty: refused.
MIN_SUBJECT_FRACTION = 0.002
MAX_SUBJECT_FRACTION = 0.95
#: A hypothesis on other border pixels within this share of the best one competes on centrality.
CONTEST_SHARE = 0.2
#: A background on under half the border must leave a subject at least this much more central.
MIN_CENTRALITY = 0.05


@dataclass(frozen=True)
class BackgroundModel:
    kind: str  # "plain" or "busy"
    noise: float  # 95th percentile of border residuals (colour units)
    inlier_fraction: float


def fallback_mask(image: Image.Image) -> tuple[Image.Image, str]:
    """Binary mask ("L", 255 = subject) and a note naming the regime used."""
    rgb = _flatten_rgb(image)
    w0, h0 = rgb.size
    scale = min(1.0, WORK_SIDE / max(w0, h0))
    work = rgb if scale >= 1.0 else rgb.resize((max(1, round(w0 * scale)), max(1, round(h0 * scale))), Image.BOX)
    subject, model = segment(np.asarray(work, dtype=np.float32))
    mask = Image.fromarray(subject.astype(np.uint8) * 255)
    if mask.size != (w0, h0):
        mask = mask.resize((w0, h0), Image.BILINEAR).point(lambda v: 255 if v >= 128 else 0)
    return mask, f"fallback ({model.kind} background, noise {model.noise:.1f})"


def segment(rgb: np.ndarray) -> tuple[np.ndarray, BackgroundModel]:
    """Subject as a bool array from an (H, W, 3) float array.

    The plain background hypothesis covering most of the border wins (see
    `background_candidates`), unless its result is flooded or empty. In a tight
    close-up or a crop the character's body colour can cover about as much
    border as the background: a hypothesis on other border pixels (mostly
    disjoint) that covers nearly as much competes, and the one whose subject
    sits nearer the centre wins, so the body is not taken for background (an
    inverted mask).
    """
    accepted: list[tuple[BackgroundModel, np.ndarray, np.ndarray]] = []
    candidates = background_candidates(rgb)
    for predicted, model, inliers in candidates:
        if model.kind != "plain":
            continue
        subject = _plain_subject(rgb, predicted, model)
        if MIN_SUBJECT_FRACTION <= float(subject.mean()) <= MAX_SUBJECT_FRACTION:
            accepted.append((model, subject, inliers))  # else flooded (the model is the subject's colour) or empty
    if accepted:
        top = accepted[0]
        rivals = [a for a in accepted
                  if a[0].inlier_fraction >= top[0].inlier_fraction - CONTEST_SHARE
                  and (a is top or (a[2] & top[2]).sum() < 0.5 * a[2].sum())]
        model, subject, _ = max(rivals, key=lambda a: _centrality(a[1])) if len(rivals) > 1 else top
        if model.inlier_fraction >= 0.5 or _centrality(subject) > MIN_CENTRALITY:
            return subject, model
        # under half the border and a "subject" no nearer the centre than its background: as
        # likely the body colour taken for background as not; the line art decides instead
    model = candidates[0][1]
    return _busy_subject(rgb), BackgroundModel("busy", model.noise, model.inlier_fraction)


def _plain_subject(rgb: np.ndarray, predicted: np.ndarray, model: BackgroundModel) -> np.ndarray:
    """Everything the border's background cannot reach without crossing a colour edge."""
    h, w, _ = rgb.shape
    residual = np.sqrt(((rgb - predicted) ** 2).sum(axis=2))
    threshold = max(28.0, 2.5 * model.noise)
    barrier = residual > threshold
    # only border pixels that fit the model seed the flood: subject touching the edge is no seed
    background = mm.reconstruct(mm.border_seeds((h, w)), ~barrier)
    subject = ~background
    if _chroma(predicted) > COLOURFUL_BG:
        # enclosed patches of a colourful background are see-through gaps, not
        # subject (on white they could be the white of an eye, so kept there)
        gaps = mm.remove_small(~barrier & subject, MIN_GAP_AREA)
        subject &= ~gaps
    return subject


def _centrality(subject: np.ndarray) -> float:
    """How much nearer the centre the subject lies than the background (-1..1)."""
    h, w = subject.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((yy - (h - 1) / 2) / (h / 2), (xx - (w - 1) / 2) / (w / 2))
    near = 1.0 - r / r.max()
    return float(near[subject].mean() - near[~subject].mean()) if subject.any() and (~subject).any() else -1.0


def _busy_subject(rgb: np.ndarray) -> np.ndarray:
    """Subject of a busy image: the regions the dark line art encloses.

    The picture is cut into regions by line art and by colour edges; a region
    whose rim is mostly dark line (a face, a body, an eye) belongs to the
    character, one whose rim is mostly colour edges (a shape of the scene) does
    not. Line art touching subject regions is added and holes are filled.
    """
    h, w, _ = rgb.shape
    smooth = np.asarray(Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).filter(ImageFilter.MedianFilter(5)),
                        dtype=np.float32)
    line = _line_art(smooth)
    grad = np.zeros((h, w), dtype=np.float32)
    grad[:, 1:-1] = np.abs(smooth[:, 2:] - smooth[:, :-2]).max(axis=2)
    grad[1:-1, :] = np.maximum(grad[1:-1, :], np.abs(smooth[2:] - smooth[:-2]).max(axis=2))
    colour_edge = grad > COLOUR_EDGE
    edges = mm.dilate(line | colour_edge, EDGE_GAP_PX)  # closes small gaps between edges
    labels, n = mm.label(~edges)
    if n == 0:
        return np.zeros((h, w), dtype=bool)
    near_edge = mm.dilate(edges, 2)
    # edge pixels that are the soft border of a dark line count as line
    near_line = mm.dilate(edges & mm.dilate(line, 3 + EDGE_GAP_PX), 2)
    flat = labels.ravel()
    rim = near_edge.ravel() & (flat > 0)
    rim_count = np.bincount(flat[rim], minlength=n + 1)
    line_count = np.bincount(flat[rim & near_line.ravel()], minlength=n + 1)
    area = np.bincount(flat, minlength=n + 1)
    touches = np.zeros(n + 1, dtype=bool)
    touches[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True
    ratio = line_count / np.maximum(rim_count, 1)
    keep = (ratio >= LINE_RIM_RATIO) & (area >= 12) & ~(touches & (ratio < 0.8))
    keep[0] = False
    regions = keep[labels]
    # the character's line art is one large connected network; scene specks are small
    line_parts, n_parts = mm.label(line)
    if n_parts:
        part_area = np.bincount(line_parts.ravel(), minlength=n_parts + 1)
        part_area[0] = 0
        big = part_area >= 0.2 * part_area.max()
        touching = np.unique(line_parts[mm.dilate(regions, 3 + EDGE_GAP_PX) & line])
        big[touching[touching > 0]] = True
        big[0] = False
        regions = regions | big[line_parts]
    if not regions.any():
        return regions
    subject = mm.erode(mm.dilate(regions, 2 + EDGE_GAP_PX), 2)  # fill the seams between region and line
    return mm.fill_holes(subject)



def background_candidates(rgb: np.ndarray, band: int = 3) -> list[tuple[np.ndarray, BackgroundModel, np.ndarray]]:
    """(predicted image, model, border inliers) per smooth colour model of the border band, most border first.

    The border is not all background when the character touches it (a close-up, a
    crop): a least-squares fit to every border pixel then bends towards the
    character's colours and the image reads as busy. Instead each of the few
    dominant border colours seeds a robust fit that grows along a gradient;
    border pixels the chosen model does not explain are subject touching the edge.
    """
    h, w, _ = rgb.shape
    ring = np.zeros((h, w), dtype=bool)
    ring[:band, :] = ring[-band:, :] = True
    ring[:, :band] = ring[:, -band:] = True
    ys, xs = np.nonzero(ring)
    design = _design(xs / max(w - 1, 1), ys / max(h - 1, 1))
    colours = rgb[ys, xs].astype(np.float64)
    # every border pixel (the classic fit, right when the border is mostly background; below
    # CLASSIC_SHARE it bends between background and subject colours) and each dominant colour
    everything = np.ones(len(ys), dtype=bool)
    out: list[tuple[np.ndarray, BackgroundModel, np.ndarray]] = []
    kept: list[np.ndarray] = []
    for seed in [everything, *_colour_modes(colours)]:
        coef, keep, res = _robust_fit(design, colours, seed)
        inliers = float(keep.mean())
        if seed is everything and inliers < CLASSIC_SHARE:
            continue
        noise = float(np.percentile(res[keep], 95)) if keep.any() else 255.0
        kind = "plain" if inliers >= MIN_BORDER_SHARE and noise <= 20.0 else "busy"
        if any((keep & k).sum() >= 0.9 * max(keep.sum(), k.sum()) for k in kept):
            continue  # the same background found again
        if kind == "plain":
            kept.append(keep)
        out.append((_evaluate(coef, h, w), BackgroundModel(kind, noise, inliers), keep))
    out.sort(key=lambda c: -c[1].inlier_fraction)
    return out


def fit_background(rgb: np.ndarray, band: int = 3) -> tuple[np.ndarray, BackgroundModel]:
    """The model of the most common border colour (see `background_candidates`)."""
    predicted, model, _ = background_candidates(rgb, band)[0]
    return predicted, model


def _colour_modes(colours: np.ndarray, count: int = 3, radius: float = 40.0) -> list[np.ndarray]:
    """Border pixels near each of the `count` most common colours (coarse histogram peaks)."""
    left = np.ones(len(colours), dtype=bool)
    modes = []
    for _ in range(count):
        if left.sum() < 0.05 * len(colours):
            break
        q = (colours[left] // 32).astype(np.int64)
        key = (q[:, 0] * 8 + q[:, 1]) * 8 + q[:, 2]
        peak = colours[left][key == np.bincount(key).argmax()]
        near = np.sqrt(((colours - np.median(peak, axis=0)) ** 2).sum(axis=1)) <= radius
        modes.append(near & left)
        left &= ~near
    return modes


def _robust_fit(design: np.ndarray, colours: np.ndarray, keep: np.ndarray):
    """Iteratively reweighted (inlier/outlier) quadratic fit from a seed set of pixels.

    A little ridge on the non-constant terms keeps a fit seen on one side of the
    image from extrapolating wildly to the others.
    """
    ridge = np.diag([0.0, 1, 1, 1, 1, 1]) * 1e-3
    coef = np.zeros((design.shape[1], 3))
    res = np.full(len(colours), 255.0)
    for _ in range(8):
        a = design[keep]
        coef = np.linalg.solve(a.T @ a + ridge * len(a), a.T @ colours[keep])
        res = np.sqrt(((design @ coef - colours) ** 2).sum(axis=1))
        cut = max(12.0, 3.0 * float(np.median(res[keep])) * 1.4826)
        new_keep = res <= cut
        if new_keep.sum() < 8 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return coef, keep, res


def _evaluate(coef: np.ndarray, h: int, w: int) -> np.ndarray:
    x = (np.arange(w) / max(w - 1, 1))[None, :, None]
    y = (np.arange(h) / max(h - 1, 1))[:, None, None]
    c = coef.astype(np.float32)
    predicted = (c[0] + c[1] * x + c[3] * x * x) + y * (c[2] + c[4] * x) + c[5] * y * y
    return predicted.astype(np.float32)


def _chroma(predicted: np.ndarray) -> float:
    mean = predicted.reshape(-1, 3).mean(axis=0)
    return float(mean.max() - mean.min())


def _design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)


def _line_art(rgb: np.ndarray, *, dark: float = 45.0, max_width: float = 10.0) -> np.ndarray:
    """Dark, thin strokes: the outline that separates a character from a busy scene.

    Thick dark areas (a dark shape in the scene) are not line art: an opening
    with a disk of `max_width` removes them so the flood can pass through.
    """
    lum = (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).clip(0, 255).astype(np.uint8)
    # a median removes sensor-like noise that would punch holes in the line
    lum = np.asarray(Image.fromarray(lum).filter(ImageFilter.MedianFilter(5)))
    is_dark = lum < dark
    thick = mm.dilate(mm.erode(is_dark, max_width), max_width)
    return is_dark & ~thick


def _flatten_rgb(image: Image.Image) -> Image.Image:
    """RGB view of the image; transparent parts become white (a plain background)."""
    if image.mode == "RGB":
        return image
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")
