"""`make update-data`: refresh the vendored Matomo lists from a local copy of the shared data.

    python scripts/update_data.py [SOURCE]     (default /work/shared/data)

Copies the list files and their licences into tracker/ingest/data/, writes NOTE.md from the
source's README table (where each list comes from, its commit and date), then loads the new
lists once so a broken file fails here and not at start-up.
"""
import shutil
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "tracker" / "ingest" / "data"
# folder -> files kept (the lists and what states their licence)
FILES = {
    "matomo-searchengine-and-social-list": ["SearchEngines.yml", "Socials.yml", "AIAssistants.yml", "LICENSE"],
    "matomo-referrer-spam-list": ["spammers.txt", "README.md"],
}


def provenance(source):
    """The README table rows of the source that describe the folders we copy."""
    readme = (source / "README.md").read_text().splitlines()
    return [line for line in readme if line.startswith("| `") and line.split("`")[1].rstrip("/") in FILES]


def write_note(source, rows):
    note = ["# Vendored referrer lists", "",
            "Copied by `make update-data` (scripts/update_data.py) from a local copy of the lists; do not edit",
            "by hand. Loaded once per process by `tracker/ingest/referrers.py`.", "",
            f"Last refreshed {date.today().isoformat()} from `{source}`:", "",
            "| folder | what | source | as of | licence |", "|---|---|---|---|---|", *rows, "",
            "Licences: the search-engine, social and AI-assistant lists are CC0 1.0 (their `LICENSE`); the",
            "referrer-spam list is public domain (the *License* section of its `README.md`).", ""]
    (TARGET / "NOTE.md").write_text("\n".join(note))


def main():
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data").resolve()
    missing = [f"{folder}/{name}" for folder, names in FILES.items() for name in names
               if not (source / folder / name).is_file()]
    if missing:
        sys.exit(f"{source} lacks {', '.join(missing)}; pass the folder that holds the lists")
    for folder, names in FILES.items():
        (TARGET / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(source / folder / name, TARGET / folder / name)
    write_note(source, provenance(source))
    sys.path.insert(0, str(ROOT))
    from tracker.ingest.referrers import load_lists

    lists = load_lists()
    print(f"vendored from {source}: {lists.summary()}")


if __name__ == "__main__":
    main()
