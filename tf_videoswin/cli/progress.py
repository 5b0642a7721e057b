"""Progress of a long run on stderr: videos per second and, in snippet mode, snippets per second."""

from __future__ import annotations

import sys


class ExtractionProgress:
    """Two tqdm bars: finished videos (of the total) and, with ``snippets``, snippets computed.

    Args:
        total: videos to process.
        snippets: also show a snippet counter with its rate.
        disable: show nothing (``--no-progress``).
    """

    def __init__(self, total: int, snippets: bool = False, disable: bool = False) -> None:
        from tqdm import tqdm

        self.videos = tqdm(total=total, unit="video", disable=disable, file=sys.stderr, position=0)
        self.snippets = (
            tqdm(unit="snippet", disable=disable, file=sys.stderr, position=1, leave=False)
            if snippets
            else None
        )

    def snippets_done(self, count: int) -> None:
        if self.snippets is not None:
            self.snippets.update(count)

    def video_done(self, failed: bool = False) -> None:
        self.videos.update(1)
        if failed:
            self.videos.set_postfix_str("some failed, see the end", refresh=False)

    def close(self) -> None:
        if self.snippets is not None:
            self.snippets.close()
        self.videos.close()

    def __enter__(self) -> ExtractionProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
