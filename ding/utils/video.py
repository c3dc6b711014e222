"""Evaluation videos: one MP4 per episode, written frame by frame (imageio with imageio-ffmpeg's bundled ffmpeg).

Imported only when recording is on, so runs without ``env.replay_path`` pay nothing for it.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any, Optional

import numpy as np


class EpisodeVideoRecorder:
    """Streams the frames of several envs' current episodes into MP4 files, one per episode.

    :param directory: where the videos and ``episodes.json`` (one record per video) go.
    :param fps: frames per second of the videos (the env's ``render_fps``).
    """

    def __init__(self, directory: str, fps: float = 30.0) -> None:
        import imageio  # noqa: F401  (fail early, with the install hint below, if it is missing)

        self.directory = directory
        self.fps = fps
        os.makedirs(directory, exist_ok=True)
        self._writers: dict[int, Any] = {}
        self._tmp_paths: dict[int, str] = {}
        self._lengths: dict[int, int] = {}

    def add(self, env_id: int, frame: np.ndarray) -> None:
        """Append a frame (H, W, 3) uint8 to env ``env_id``'s current episode (opening its file on the first)."""
        if env_id not in self._writers:
            import imageio

            path = os.path.join(self.directory, f".recording_env{env_id}.mp4")
            # macro_block_size=1: keep the env's own frame size (CartPole renders 600x400)
            self._writers[env_id] = imageio.get_writer(path, fps=self.fps, macro_block_size=1, quality=7)
            self._tmp_paths[env_id] = path
            self._lengths[env_id] = 0
        self._writers[env_id].append_data(np.ascontiguousarray(frame))
        self._lengths[env_id] += 1

    def finish(self, env_id: int, name: str, record: dict[str, Any]) -> Optional[tuple[str, int]]:
        """Close env ``env_id``'s episode as ``<directory>/<name>.mp4`` and append ``record`` to episodes.json;
        returns the video's path and frame count (None: the env recorded nothing)."""
        writer = self._writers.pop(env_id, None)
        if writer is None:
            return None
        writer.close()
        path = os.path.join(self.directory, f"{name}.mp4")
        os.replace(self._tmp_paths.pop(env_id), path)
        frames = self._lengths.pop(env_id)
        record = dict(record, video=os.path.basename(path), frames=frames)
        with open(os.path.join(self.directory, "episodes.json"), "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return path, frames

    def discard(self, env_id: int) -> None:
        """Drop env ``env_id``'s unfinished episode (an episode beyond the evaluation's quota)."""
        writer = self._writers.pop(env_id, None)
        if writer is not None:
            writer.close()
            os.remove(self._tmp_paths.pop(env_id))
            self._lengths.pop(env_id, None)

    def close(self) -> None:
        for env_id in list(self._writers):
            self.discard(env_id)


def gif_bytes(frames: Iterable[np.ndarray], fps: float, max_width: int = 240, every: int = 1) -> tuple[bytes, int, int]:
    """An animated GIF of ``frames`` (downscaled to ``max_width`` pixels wide as they come, and only every
    ``every``-th frame, each shown ``every`` frames long), for TensorBoard's image tab."""
    from PIL import Image

    images = []
    for i, frame in enumerate(frames):
        if i % every:
            continue
        image = Image.fromarray(np.ascontiguousarray(frame))
        if image.width > max_width:
            image = image.resize((max_width, max(1, round(image.height * max_width / image.width))))
        images.append(image)
    if not images:
        raise ValueError("gif_bytes: no frames")
    buffer = io.BytesIO()
    duration = max(1, round(1000 * every / fps))
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
    return buffer.getvalue(), images[0].height, images[0].width


def read_video(path: str) -> Iterator[np.ndarray]:
    """The frames (H, W, 3) uint8 of a video file, one at a time."""
    import imageio

    reader = imageio.get_reader(path)
    try:
        yield from reader
    finally:
        reader.close()
