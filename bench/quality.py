"""SSIM and PSNR of an output against a float LANCZOS reference.

The reference is the correctly oriented source, converted to sRGB, resampled
in 32-bit float per channel straight to the output's size, so no
implementation is judged against its own shortcuts. SSIM is on luma (BT.601),
Gaussian window 11 px, sigma 1.5 (Wang et al. 2004); PSNR is on RGB.
Transparent images are composited on white first.
"""

import io
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps

_SRGB = ImageCms.createProfile("sRGB")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, image).convert("RGB")
    return image.convert("RGB")


@lru_cache(maxsize=2)
def _upright(path: str) -> Image.Image:
    image = Image.open(path)
    image.load()
    icc = image.info.get("icc_profile")
    image = ImageOps.exif_transpose(image)
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        out = "RGBA" if image.mode == "RGBA" else "RGB"
        image = ImageCms.profileToProfile(
            image, ImageCms.ImageCmsProfile(io.BytesIO(icc)), _SRGB, outputMode=out
        )
    return _flatten(image)


@lru_cache(maxsize=16)
def reference(path: str, size: tuple[int, int]) -> np.ndarray:
    image = _upright(path)
    channels = [
        np.asarray(band.convert("F").resize(size, Image.Resampling.LANCZOS)) for band in image.split()
    ]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.float64)


def _blur(plane: np.ndarray) -> np.ndarray:
    taps = np.exp(-0.5 * (np.arange(-5, 6) / 1.5) ** 2)
    taps /= taps.sum()
    for axis in (0, 1):
        padded = np.pad(plane, [(5, 5) if a == axis else (0, 0) for a in (0, 1)], mode="reflect")
        n = plane.shape[axis]
        plane = sum(
            w * (padded[i : i + n] if axis == 0 else padded[:, i : i + n]) for i, w in enumerate(taps)
        )
    return plane


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    x, y = a @ _LUMA, b @ _LUMA
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _blur(x), _blur(y)
    sxx, syy, sxy = _blur(x * x) - mx * mx, _blur(y * y) - my * my, _blur(x * y) - mx * my
    score = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(score.mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


def measure(source: Path, output: Path) -> dict:
    out = _flatten(Image.open(output))
    ref = reference(str(source), out.size)
    pixels = np.asarray(out, dtype=np.float64)
    return {"ssim": round(ssim(ref, pixels), 5), "psnr": round(psnr(ref, pixels), 2)}
