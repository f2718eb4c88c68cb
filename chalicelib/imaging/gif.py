"""GIF frames on the logical screen, as browsers draw them.

The logical screen is the canvas. Pillow grows its image to any frame that
reaches past the screen (a 32×32 GIF decodes 40×40), and where the first
frame is smaller than the screen it fills the rest with a palette colour.
Browsers clip frames to the screen and leave what no frame has drawn (or a
"restore to background" disposal has cleared) transparent. `read_layout`
parses the block structure (screen, each frame's box and disposal; no pixel
data, every read bounds-checked, at most `max_frames`), and `on_screen`
turns a frame Pillow decoded into what a browser shows.
"""

import struct
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw

Box = tuple[int, int, int, int]  # left, top, right, bottom


@dataclass(frozen=True)
class GifLayout:
    screen: tuple[int, int]
    boxes: tuple[Box, ...]  # each frame's image descriptor
    disposals: tuple[int, ...]  # each frame's disposal method (0 or 1 keep, 2 background, 3 previous)


def _skip_sub_blocks(data: bytes, at: int) -> int:
    while at < len(data):
        size = data[at]
        at += 1 + size
        if size == 0:
            return at
    raise ValueError("sub-blocks run past the end")


def read_layout(data: bytes, max_frames: int = 10_000) -> GifLayout | None:
    """The screen and frame boxes of a GIF, or None when its blocks cannot be
    followed (Pillow's own checks then decide what the file is)."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    at = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    boxes: list[Box] = []
    disposals: list[int] = []
    disposal = 0
    try:
        while at < len(data) and len(boxes) < max_frames:
            block = data[at]
            if block == 0x3B:  # trailer
                break
            if block == 0x21:  # extension: a graphic control extension carries the disposal
                if data[at + 1] == 0xF9 and at + 4 <= len(data):
                    disposal = (data[at + 3] >> 2) & 7
                at = _skip_sub_blocks(data, at + 2)
            elif block == 0x2C:  # image descriptor
                left, top, w, h, local = struct.unpack_from("<HHHHB", data, at + 1)
                boxes.append((left, top, left + w, top + h))
                disposals.append(disposal)
                disposal = 0
                at += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
                at = _skip_sub_blocks(data, at + 1)  # past the LZW minimum code size
            else:
                break
    except (IndexError, ValueError, struct.error):
        pass  # truncated: the frames read so far stand
    if not boxes or width == 0 or height == 0:
        return None
    return GifLayout((width, height), tuple(boxes), tuple(disposals))


def drawn(layout: GifLayout, index: int) -> Image.Image:
    """Mode L, the screen's size: 255 where some frame up to `index` has drawn
    and no "restore to background" has cleared it since."""
    mask = Image.new("L", layout.screen, 0)
    draw = ImageDraw.Draw(mask)
    for number in range(min(index, len(layout.boxes) - 1) + 1):
        if number and layout.disposals[number - 1] == 2:
            left, top, right, bottom = layout.boxes[number - 1]
            draw.rectangle((left, top, right - 1, bottom - 1), fill=0)
        left, top, right, bottom = layout.boxes[number]
        if right > left and bottom > top:
            draw.rectangle((left, top, right - 1, bottom - 1), fill=255)
    return mask


def needs_fixing(layout: GifLayout, size: tuple[int, int]) -> bool:
    """Whether Pillow's frames differ from the browser's: a canvas other than
    the screen, or a screen area the first frame leaves undrawn."""
    return size != layout.screen or layout.boxes[0] != (0, 0, *layout.screen) or 2 in layout.disposals


def on_screen(frame: Image.Image, layout: GifLayout, index: int) -> Image.Image:
    """Frame `index` as Pillow decoded it (any mode), clipped to the logical
    screen, transparent wherever no frame has drawn: RGBA (RGB when all is drawn)."""
    picture = frame.convert("RGBA") if frame.mode != "RGBA" else frame
    if picture.size != layout.screen:
        canvas = Image.new("RGBA", layout.screen, (0, 0, 0, 0))
        canvas.paste(picture.crop((0, 0, *layout.screen)), (0, 0))
        picture = canvas
    mask = drawn(layout, index)
    if mask.getextrema() == (255, 255) and picture.getchannel("A").getextrema()[0] == 255:
        return picture.convert("RGB")
    picture.putalpha(ImageChops.darker(picture.getchannel("A"), mask))
    return picture
