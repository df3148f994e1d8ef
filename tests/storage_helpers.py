"""Small real bags and storage configurations for the storage / audit tests."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from oais_preserve.bag import PayloadEntry, write_bag_tags
from oais_preserve.storage import StorageConfig, init_location, load_storage_config


def make_bag(root: Path, index: int, *, files: int = 6, seed: int = 0, fonds: str = "H49") -> Path:
    """A valid BagIt bag shaped like our AIP bags (bag-info carries OBJID, fonds and hồ sơ codes)."""
    rng = random.Random(seed * 1000 + index)
    name = f"urn_{fonds}_uuid_{index:08d}-0000-4000-8000-000000000000"
    bag = root / name
    entries = []
    for number in range(files):
        rel = f"data/representations/rep1/data/tài liệu {number:03d}.bin"
        target = bag / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(rng.randint(200, 5000))
        target.write_bytes(data)
        entries.append(PayloadEntry(rel, len(data), {"sha256": hashlib.sha256(data).hexdigest()}))
    mets = b"<mets/>\n"
    (bag / "data" / "METS.xml").write_bytes(mets)
    entries.append(PayloadEntry("data/METS.xml", len(mets), {"sha256": hashlib.sha256(mets).hexdigest()}))
    write_bag_tags(
        bag,
        entries,
        {
            "External-Identifier": f"urn:{fonds}:uuid:{index:08d}-0000-4000-8000-000000000000",
            "Bag-Group-Identifier": fonds,
            "Internal-Sender-Identifier": f"{fonds}.01.{index:03d}",
        },
    )
    return bag


def write_config(
    root: Path, *, days: tuple[float, float] = (182, 365), min_copies: int = 2, init: bool = True
) -> StorageConfig:
    """Two locations (primary, replica) under ``root``, initialised unless ``init`` is false."""
    text = f"""
min_copies = {min_copies}
ledger = "ledger/ledger.sqlite"
agent = "Trung tâm Lưu trữ lịch sử"

[locations.primary]
path = "primary"
medium = "HDD-01"
audit_every_days = {days[0]}

[locations.replica]
path = "replica"
medium = "NAS-02"
audit_every_days = {days[1]}
"""
    path = root / "storage.toml"
    path.write_text(text, encoding="utf-8")
    config = load_storage_config(path)
    if init:
        for name in config.locations:
            init_location(config, name)
    return config
