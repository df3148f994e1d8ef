"""End-to-end: SIP_hoso and AIP_hoso built from a generated fonds, checked by tools we did not write."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import bagit
import pytest
from lxml import etree

from oais_preserve import build_aip, build_sip, export_zip, ingest, validate
from oais_preserve.errors import DescriptionError, InvalidPackageError, PackageConflictError, UnsafePathError

from .conftest import run_bagit_validator, run_eark_validator, shared_or_skip

PREMIS_NS = {"p": "http://www.loc.gov/premis/v3"}
METS_NS = {"m": "http://www.loc.gov/METS/", "xlink": "http://www.w3.org/1999/xlink"}


def official_schema(name: str) -> etree.XMLSchema:
    """Load an official XSD straight from ../shared/reference/xsd (independent of our loader)."""
    xsd_dir = shared_or_skip("reference", "xsd")

    class Local(etree.Resolver):
        def resolve(self, url, pubid, context):  # type: ignore[no-untyped-def]
            if url.endswith("xlink.xsd"):
                return self.resolve_filename(str(xsd_dir / "xlink.xsd"), context)
            return None

    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(Local())
    return etree.XMLSchema(etree.parse(str(xsd_dir / name), parser))


def tree_state(folder: Path) -> dict[str, tuple[int, float, str]]:
    """Size, mtime and SHA-256 of every file: proof that originals were left untouched."""
    state = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            info = path.stat()
            state[str(path)] = (info.st_size, info.st_mtime, hashlib.sha256(path.read_bytes()).hexdigest())
    return state


@pytest.fixture(scope="module")
def built(
    sample_fonds: tuple[Path, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[Path]]:
    scans, descriptions = sample_fonds
    out = tmp_path_factory.mktemp("built")
    before = tree_state(scans)
    result: dict[str, list[Path]] = {"sip": [], "aip": [], "ingested": []}
    for description in descriptions:
        sip = build_sip(description, scans, out / "sip", workers=2)
        result["sip"].append(sip.path)
        result["aip"].append(build_aip(description, scans, out / "aip", workers=2).path)
        result["ingested"].append(ingest(sip.path, out / "ingested", workers=1).path)
    assert tree_state(scans) == before, "the producer's files changed"
    return result


def mets_and_premis_files(package_root: Path) -> tuple[list[Path], list[Path]]:
    mets = [package_root / "METS.xml", *package_root.glob("representations/*/METS.xml")]
    premis = list(package_root.rglob("PREMIS*.xml"))
    return mets, premis


@pytest.mark.parametrize("kind", ["aip", "ingested"])
def test_aips_pass_every_external_validator(built: dict[str, list[Path]], kind: str) -> None:
    mets_xsd, premis_xsd = official_schema("mets.xsd"), official_schema("premis.xsd")
    for bag in built[kind]:
        result = run_eark_validator(bag / "data")
        assert result.returncode == 0 and "VALID" in result.stdout, result.stdout + result.stderr
        mets_files, premis_files = mets_and_premis_files(bag / "data")
        assert len(premis_files) == 2
        for path in mets_files:
            assert mets_xsd.validate(etree.parse(str(path))), (path, mets_xsd.error_log)
        for path in premis_files:
            assert premis_xsd.validate(etree.parse(str(path))), (path, premis_xsd.error_log)
        assert run_bagit_validator(bag).returncode == 0
        bagit.Bag(str(bag)).validate()
        report = validate(bag)
        assert report.valid, report.problems
        assert report.package_type == "AIP"


def test_sips_pass_external_validators(built: dict[str, list[Path]]) -> None:
    mets_xsd = official_schema("mets.xsd")
    for sip in built["sip"]:
        result = run_eark_validator(sip, allow="SIP2,SIP14")
        assert result.returncode == 0, result.stdout + result.stderr
        for path in mets_and_premis_files(sip)[0]:
            assert mets_xsd.validate(etree.parse(str(path))), mets_xsd.error_log
        assert not list(sip.rglob("PREMIS*.xml")), "a TT05 SIP carries no PREMIS"
        assert validate(sip).valid


def test_aip_layout_and_identifiers(built: dict[str, list[Path]]) -> None:
    bag = built["aip"][0]
    root = bag / "data"
    mets = etree.parse(str(root / "METS.xml")).getroot()
    objid = mets.get("OBJID")
    assert objid.startswith("urn:") and bag.name == objid.replace(":", "_")
    assert mets.get("PROFILE") == "http://www.ra.ee/METS/v01/IP.xml"
    assert mets.get("TYPE") == "Mixed"
    created = mets.find("m:metsHdr", METS_NS).get("CREATEDATE")
    assert created.endswith("+07:00")
    for path in (
        "metadata/descriptive/EAD.xml",
        "metadata/preservation/PREMIS.xml",
        "representations/rep1/METS.xml",
        "representations/rep1/metadata/preservation/PREMIS_rep1.xml",
    ):
        assert (root / path).is_file(), path
    assert list((root / "representations/rep1/metadata/descriptive").glob("EAD_*.xml"))
    assert (root / "schemas/mets.xsd").read_bytes() == (
        shared_or_skip("reference", "xsd", "mets.xsd")
    ).read_bytes()
    info = bagit.Bag(str(bag)).info
    assert info["External-Identifier"] == objid
    assert "Payload-Oxum" in info and "Bag-Size" in info and "Source-Organization" in info
    for file_elem in etree.parse(str(root / "representations/rep1/METS.xml")).iter(
        "{http://www.loc.gov/METS/}file"
    ):
        assert file_elem.get("ID").startswith("ID-")
        assert file_elem.get("CHECKSUMTYPE") == "SHA-256" and file_elem.get("SIZE")


def test_premis_records_events_agents_and_formats(built: dict[str, list[Path]]) -> None:
    root = built["ingested"][0] / "data"
    package = etree.parse(str(root / "metadata/preservation/PREMIS.xml"))
    rep = etree.parse(str(root / "representations/rep1/metadata/preservation/PREMIS_rep1.xml"))
    package_events = set(package.xpath("//p:eventType/text()", namespaces=PREMIS_NS))
    assert {"fixity check", "information package creation", "validation"} <= package_events
    built_from_scans = etree.parse(str(built["aip"][0] / "data/metadata/preservation/PREMIS.xml"))
    assert {"transfer", "ingestion", "validation"} <= set(
        built_from_scans.xpath("//p:eventType/text()", namespaces=PREMIS_NS)
    )
    transfer_date = built_from_scans.xpath(
        "//p:event[p:eventType='transfer']/p:eventDateTime/text()", namespaces=PREMIS_NS
    )[0]
    assert (
        transfer_date
        < built_from_scans.xpath(
            "//p:event[p:eventType='ingestion']/p:eventDateTime/text()", namespaces=PREMIS_NS
        )[0]
    ), "the digitization is dated at the scan date, not at build time"
    rep_events = set(rep.xpath("//p:eventType/text()", namespaces=PREMIS_NS))
    assert {"message digest calculation", "format identification"} <= rep_events
    fido_versions = rep.xpath("//p:agent[p:agentName='fido']/p:agentVersion/text()", namespaces=PREMIS_NS)
    assert fido_versions == ["1.6.1"]
    keys = rep.xpath("//p:formatRegistryKey/text()", namespaces=PREMIS_NS)
    assert "fmt/18" in keys, "the sample's PDF 1.4 scans are identified as fmt/18"
    linked = set(package.xpath("//p:linkingAgentIdentifierValue/text()", namespaces=PREMIS_NS)) | set(
        rep.xpath("//p:linkingAgentIdentifierValue/text()", namespaces=PREMIS_NS)
    )
    described = set(package.xpath("//p:agentIdentifierValue/text()", namespaces=PREMIS_NS)) | set(
        rep.xpath("//p:agentIdentifierValue/text()", namespaces=PREMIS_NS)
    )
    assert linked <= described, "AIP18: every agent an event references is described"
    for fixity in rep.xpath("//p:fixity", namespaces=PREMIS_NS):
        assert fixity.findtext("p:messageDigestAlgorithm", namespaces=PREMIS_NS) == "SHA-256"


def test_digests_agree_across_mets_premis_and_manifest(built: dict[str, list[Path]]) -> None:
    bag = built["aip"][1]
    manifest = dict(
        reversed(line.split(maxsplit=1))
        for line in (bag / "manifest-sha256.txt").read_text(encoding="utf-8").splitlines()
    )
    rep_mets = etree.parse(str(bag / "data/representations/rep1/METS.xml"))
    for file_elem in rep_mets.iter("{http://www.loc.gov/METS/}file"):
        href = file_elem.find("m:FLocat", METS_NS).get("{http://www.w3.org/1999/xlink}href")
        assert manifest[f"data/representations/rep1/{href}"] == file_elem.get("CHECKSUM")


def test_rerun_finds_the_package_complete(
    sample_fonds: tuple[Path, list[Path]], built: dict[str, list[Path]]
) -> None:
    scans, descriptions = sample_fonds
    again = build_aip(descriptions[0], scans, built["aip"][0].parent, workers=1)
    assert again.skipped and again.path == built["aip"][0]
    # A corrected description lands on the same OBJID: it is refused, never silently skipped.
    before = tree_state(built["aip"][0])
    corrected = json.loads(descriptions[0].read_text(encoding="utf-8"))
    corrected["hoso"]["title"] += " (đã sửa)"
    corrected["documents"][1]["mode"] = "03"
    with pytest.raises(PackageConflictError, match="existing package differs from the catalogue") as caught:
        build_aip(corrected, scans, built["aip"][0].parent, workers=1)
    first, second = caught.value.differences
    assert first == "EAD.xml: title"
    assert second.startswith("EAD_doc_") and second.endswith(": mode")
    assert tree_state(built["aip"][0]) == before


def test_export_zip_has_one_root_and_validates(built: dict[str, list[Path]], tmp_path: Path) -> None:
    archive = export_zip(built["aip"][0], tmp_path)
    with zipfile.ZipFile(archive) as zf:
        roots = {name.split("/")[0] for name in zf.namelist()}
    assert roots == {built["aip"][0].name}
    assert validate(archive).valid
    result = run_eark_validator(archive)
    assert result.returncode == 0, result.stdout


def test_invalid_description_lists_every_problem(
    sample_fonds: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    scans, descriptions = sample_fonds
    data = json.loads(descriptions[0].read_text(encoding="utf-8"))
    data["hoso"]["maintenance"] = "99"
    data["hoso"]["title"] = "x" * 1001
    data["hoso"]["startDate"] = "31/02/1968"
    data["hoso"]["totalDoc"] = 999
    with pytest.raises(DescriptionError) as caught:
        build_aip(data, scans, tmp_path)
    fields = " ".join(p.where for p in caught.value.problems)
    assert len(caught.value.problems) >= 4
    for name in ("maintenance", "title", "startDate", "totalDoc"):
        assert name in fields
    assert not any(tmp_path.iterdir()), "nothing is written for an invalid description"


def test_nfc_collisions_and_escaping_paths_are_refused(
    sample_fonds: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    descriptions = sample_fonds[1]
    data = json.loads(descriptions[0].read_text(encoding="utf-8"))
    source = tmp_path / "src"
    source.mkdir()
    (source / "h\u1ed3 s\u01a1.pdf").write_bytes(b"%PDF-1.4\n")
    (source / "sub").mkdir()
    nfd = "sub/" + __import__("unicodedata").normalize("NFD", "h\u1ed3 s\u01a1.pdf")
    (source / nfd).write_bytes(b"%PDF-1.4\n%")
    data["hoso"]["files"] = ["h\u1ed3 s\u01a1.pdf", nfd]
    for doc in data["documents"]:
        doc["files"] = []
    with pytest.raises((UnsafePathError, DescriptionError)):
        build_aip(data, source, tmp_path / "out")
    (source / "link.pdf").symlink_to("/etc/passwd")
    data["hoso"]["files"] = ["link.pdf"]
    with pytest.raises((UnsafePathError, DescriptionError)):
        build_aip(data, source, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not [
        p for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")
    ]


def test_only_sha256_by_default_and_more_on_request(
    sample_fonds: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    scans, descriptions = sample_fonds
    bag = build_aip(descriptions[2], scans, tmp_path, workers=1, algorithms=("sha256", "sha512")).path
    assert (bag / "manifest-sha256.txt").exists() and (bag / "manifest-sha512.txt").exists()
    bagit.Bag(str(bag)).validate()
    assert os.path.exists(bag / "tagmanifest-sha512.txt")


def test_markup_characters_in_names_and_titles_are_escaped(
    sample_fonds: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    scans, descriptions = sample_fonds
    data = json.loads(descriptions[0].read_text(encoding="utf-8"))
    source = tmp_path / "src"
    source.mkdir()
    odd = 'Tờ trình & "báo cáo" <1>.pdf'
    uri_odd = "Tờ trình #5 (100%)?.pdf"  # would end or escape a URI path: "_" in the package
    first = data["documents"][0]
    (source / odd).write_bytes((scans / first["files"][0]).read_bytes())
    (source / uri_odd).write_bytes((scans / first["files"][0]).read_bytes())
    for doc in data["documents"][1:]:
        for name in doc["files"]:
            (source / name).write_bytes((scans / name).read_bytes())
    first["files"] = [odd, uri_odd]
    data["hoso"]["title"] = 'Hồ sơ <nháp> & "bản chính"'
    bag = build_aip(data, source, tmp_path / "out", workers=1).path
    assert validate(bag).valid
    mets_xsd, premis_xsd = official_schema("mets.xsd"), official_schema("premis.xsd")
    rep_mets = etree.parse(str(bag / "data/representations/rep1/METS.xml"))
    assert mets_xsd.validate(rep_mets)
    hrefs = [loc.get("{http://www.w3.org/1999/xlink}href") for loc in rep_mets.iter("{*}FLocat")]
    assert f"data/{odd}" in hrefs
    assert "data/Tờ trình _5 (100_)_.pdf" in hrefs and not any("%" in h or "#" in h for h in hrefs)
    assert (bag / "data/representations/rep1/data/Tờ trình _5 (100_)_.pdf").is_file()
    checked = run_eark_validator(bag / "data")
    assert checked.returncode == 0 and "VALID" in checked.stdout, checked.stdout + checked.stderr
    premis = etree.parse(str(bag / "data/representations/rep1/metadata/preservation/PREMIS_rep1.xml"))
    assert premis_xsd.validate(premis)
    assert {odd, uri_odd} <= set(premis.xpath("//p:originalName/text()", namespaces=PREMIS_NS))
    root_mets = etree.parse(str(bag / "data/METS.xml")).getroot()
    assert root_mets.get("LABEL") == data["hoso"]["title"]


def test_a_package_that_fails_its_self_check_is_never_published(
    sample_fonds: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Corrupt the manifest right after it is written: the build must refuse to publish."""
    import oais_preserve.packages as packages

    real = packages.write_bag_tags

    def corrupting(bag_dir: Path, *args: object, **kwargs: object) -> None:
        real(bag_dir, *args, **kwargs)  # type: ignore[arg-type]
        manifest = bag_dir / "manifest-sha256.txt"
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(("0" if text[0] != "0" else "1") + text[1:], encoding="utf-8")

    monkeypatch.setattr(packages, "write_bag_tags", corrupting)
    scans, descriptions = sample_fonds
    out = tmp_path / "out"
    with pytest.raises(InvalidPackageError) as caught:
        build_aip(descriptions[0], scans, out, workers=1)
    assert any(p.where == "manifest-sha256.txt" for p in caught.value.problems)
    assert not list(out.iterdir()), "nothing published, no partial folder, no lock"


@pytest.mark.parametrize("rel", ["a/.", ".", "..", "a\\..", "scans/"])
def test_described_paths_without_a_file_name_are_refused(rel: str) -> None:
    from oais_preserve.packages import target_rel

    if rel == "scans/":  # a trailing slash names the folder's last part, as before
        assert target_rel(rel) == "representations/rep1/data/scans"
        return
    with pytest.raises(UnsafePathError, match="not a file name"):
        target_rel(rel)
