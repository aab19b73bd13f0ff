"""Write ``tag_db/known_beyond_danbooru.json.gz``: what e621 and the WD list add to Danbooru for the linter's
``known_anywhere`` (see ``promptkit/linter/known.py``). Run it after any change to the bundled tag lists or to
``known_in``; ``tests/test_known_anywhere.py`` fails until it has been run.

    python tools/known_beyond_danbooru.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptkit._resources import tag_db_path  # noqa: E402
from promptkit.linter.known import DATA_FILE, derive, write  # noqa: E402


def main() -> None:
    sections = derive()
    path = tag_db_path(DATA_FILE)
    write(path, sections)
    print(f"wrote {path} ({', '.join(f'{len(v):,} {k}' for k, v in sections.items())}; {path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
