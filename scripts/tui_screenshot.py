"""Saves an SVG screenshot of `morgan chat` answering real questions on a running server.

    python scripts/tui_screenshot.py --url http://127.0.0.1:8000 --out docs/tui.svg \
        "What does pypdf's extract_text do with layout?"

Drives the real app with Textual's pilot (no terminal needed); the picture is what a user sees.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.app import MorganChatApp


async def shoot(
    url: str | None, token: str | None, questions: list[str], out: Path, size: tuple[int, int]
) -> None:
    app = MorganChatApp(url=url, token=token)
    async with app.run_test(size=size) as pilot:

        async def settle() -> None:
            async with asyncio.timeout(300):
                while any(w.is_running or w.state.name == "PENDING" for w in app.workers):
                    await app.workers.wait_for_complete()
                    await pilot.pause()
                await pilot.pause()

        await settle()
        app.prompt_input.cursor_blink = False
        for question in questions:
            app.prompt_input.insert(question)
            await pilot.press("enter")
            await settle()
        await pilot.pause(0.5)  # let notifications' entry animation finish
        app.save_screenshot(filename=out.name, path=str(out.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="+")
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--out", type=Path, default=Path("docs/tui.svg"))
    parser.add_argument("--size", default="120x36", help="COLUMNSxROWS")
    args = parser.parse_args()
    cols, rows = (int(x) for x in args.size.split("x"))
    asyncio.run(shoot(args.url, args.token, args.questions, args.out, (cols, rows)))


if __name__ == "__main__":
    main()
