"""DIP building: validators, access policy (no leak of restricted documents), damaged masters,
the derivative cache, the CLI, and the viewer in a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote

import pytest
import pyvips
from click.testing import CliRunner
from lxml import etree

from oais_preserve import AccessPolicy, DerivativeSettings, build_aip, build_dip, export_zip, validate
from oais_preserve.cli import main
from oais_preserve.dip import read_aip
from oais_preserve.errors import UserInputError
from oais_preserve.packages import target_rel
from oais_preserve.profile import NS_CSIP, NS_METS, NS_PREMIS
from oais_preserve.viewer import ViewerDocument, ViewerImage, ViewerPage, href, render_viewer
from oais_preserve.xmlcheck import mets_schema, premis_schema

from .conftest import REPO, run_eark_validator

P = {"p": NS_PREMIS}
M = {"m": NS_METS}
ARTIFACTS = REPO / "build" / "test-artifacts"


def _mixed_description(sample_fonds: tuple[Path, list[Path]]) -> dict[str, Any]:
    """The sample hồ sơ with PDFs, a JPEG photo and a TIFF photo (the NFD-named one)."""
    _scans, descriptions = sample_fonds
    for path in descriptions:
        data = json.loads(path.read_text(encoding="utf-8"))
        kinds = {Path(f).suffix for d in data["documents"] for f in d["files"]}
        if {".pdf", ".tif", ".jpg"} <= kinds:
            return dict(data)
    raise AssertionError("the sample fonds has no hồ sơ with PDF, TIFF and JPEG")


@pytest.fixture(scope="module")
def aips(sample_fonds: tuple[Path, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One public AIP, and one where document 2 is Mật (03) and document 3 is conditional (02).

    The restricted one also has a hồ sơ-level file (the whole-hồ sơ scan ``MÃ_HỒ_SƠ.pdf``, linked
    to no document) that holds document 2's content, as a scan of the whole hồ sơ does.
    """
    scans, _ = sample_fonds
    base = _mixed_description(sample_fonds)
    out = tmp_path_factory.mktemp("dip-aips")
    public = build_aip(base, scans, out / "public", workers=1)
    restricted_desc = json.loads(json.dumps(base))
    restricted_desc["documents"][1]["mode"] = "03"
    restricted_desc["documents"][2]["mode"] = "02"
    restricted_scans = out / "restricted-scans"
    shutil.copytree(scans, restricted_scans)
    secret_master = restricted_desc["documents"][1]["files"][0]
    assert secret_master.endswith(".pdf")
    whole = f"{restricted_desc['hoso']['fileCode']}.pdf"
    on_disk = next(
        p for p in restricted_scans.iterdir() if unicodedata.normalize("NFC", p.name) == secret_master
    )
    shutil.copyfile(on_disk, restricted_scans / whole)
    restricted_desc["hoso"]["files"] = [whole]
    # A master whose name needs URL encoding (#, &, space, Vietnamese): the viewer must still link
    # it. ("%" is covered by the unit test: the AIP's METS refuses it in an xlink:href today.)
    first = restricted_desc["documents"][0]["files"][0]
    awkward = f"{first.split('_', 1)[0]}_Tờ trình #5 & phụ lục{Path(first).suffix}"
    next(p for p in restricted_scans.iterdir() if unicodedata.normalize("NFC", p.name) == first).rename(
        restricted_scans / awkward
    )
    restricted_desc["documents"][0]["files"] = [awkward]
    restricted = build_aip(restricted_desc, restricted_scans, out / "restricted", workers=1)
    return {
        "public": public.path,
        "restricted": restricted.path,
        "description": restricted_desc,
        "scans": restricted_scans,  # the scans of the restricted AIP
        "whole": whole,
        "awkward": awkward,
    }


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_dip_passes_eark_validator_xsds_and_our_validation(aips: dict[str, Any], tmp_path: Path) -> None:
    result = build_dip(aips["public"], tmp_path / "dip", workers=2)
    dip = result.path
    assert not (dip / "bagit.txt").exists()
    eark = run_eark_validator(dip)
    assert eark.returncode == 0, eark.stdout + eark.stderr
    assert "VALID: 0 error(s)" in eark.stdout
    report = validate(dip, verify=True)
    assert report.valid, report.problems
    assert report.package_type == "DIP"
    for mets_path in (dip / "METS.xml", dip / "representations/rep1/METS.xml"):
        mets_schema().assertValid(etree.parse(str(mets_path)))
    for premis_path in dip.rglob("PREMIS*.xml"):
        premis_schema().assertValid(etree.parse(str(premis_path)))

    root = etree.parse(str(dip / "METS.xml")).getroot()
    aip_objid = etree.parse(str(aips["public"] / "data/METS.xml")).getroot().get("OBJID")
    assert root.get("OBJID") == result.objid != aip_objid  # DIP1: a new OBJID
    assert root.get("PROFILE") == "https://earkdip.dilcis.eu/profile/E-ARK-DIP.xml"
    assert root.get("TYPE") == "Mixed"
    assert root.find("m:metsHdr", M).get(f"{{{NS_CSIP}}}OAISPACKAGETYPE") == "DIP"
    assert {d.get("STATUS") for d in root.iterfind("m:dmdSec", M)} == {"CURRENT"}
    # Descriptive metadata carried over byte for byte.
    assert (dip / "metadata/descriptive/EAD.xml").read_bytes() == (
        aips["public"] / "data/metadata/descriptive/EAD.xml"
    ).read_bytes()


def test_premis_records_derivations_creation_events_and_access_environment(
    aips: dict[str, Any], tmp_path: Path
) -> None:
    result = build_dip(aips["public"], tmp_path / "dip", workers=1)
    rep = etree.parse(str(result.path / "representations/rep1/metadata/preservation/PREMIS_rep1.xml"))
    files = rep.findall("p:object[@{http://www.w3.org/2001/XMLSchema-instance}type='file']", P)
    data = [p for p in (result.path / "representations/rep1/data").rglob("*") if p.is_file()]
    assert len(files) == len(data) == result.access_files + result.thumbnails
    source_ids = {
        f"{result.aip_objid}/{p.relative_to(aips['public'] / 'data').as_posix()}"
        for p in (aips["public"] / "data/representations/rep1/data").iterdir()
    }
    for obj in files:
        derivation = obj.find("p:relationship[p:relationshipType='derivation']", P)
        assert derivation.findtext("p:relationshipSubType", namespaces=P) == "has source"
        assert derivation.findtext(".//p:relatedObjectIdentifierValue", namespaces=P) in source_ids
    creations = [
        e for e in rep.iterfind("p:event", P) if e.findtext("p:eventType", namespaces=P) == "creation"
    ]
    assert len(creations) == len(files)
    details = " ".join(e.findtext(".//p:eventDetail", namespaces=P) for e in creations)
    assert "libvips" in details and "PDFium" in details and "Q=85" in details and "size=2000" in details
    assert rep.findtext(".//p:significantPropertiesType", namespaces=P) == "DIP representation format"
    assert rep.find(".//p:environmentFunction", P) is not None
    assert rep.findtext(".//p:environmentName", namespaces=P).startswith("Web browser")
    agents = {a.findtext("p:agentName", namespaces=P) for a in rep.iterfind("p:agent", P)}
    assert {"oais_preserve", "libvips", "PDFium"} <= agents


def test_access_copies_are_srgb_jpegs_within_the_long_edge(aips: dict[str, Any], tmp_path: Path) -> None:
    settings = DerivativeSettings(access_long_edge=600, thumbnail_size=128, access_quality=70)
    result = build_dip(aips["public"], tmp_path / "dip", settings=settings, workers=1)
    data = result.path / "representations/rep1/data"
    jpegs = sorted(data.glob("*.jpg"))
    pdfs = sorted(data.glob("*.pdf"))
    assert jpegs and pdfs
    for path in jpegs:
        image = pyvips.Image.new_from_file(str(path))
        assert max(image.width, image.height) <= 600 and image.bands == 3
        assert image.interpretation == "srgb"
    for path in (data / "thumbnails").iterdir():
        image = pyvips.Image.new_from_file(str(path))
        assert max(image.width, image.height) <= 128
    # PDF masters are their own access copies, byte for byte.
    masters = {p.name: p for p in (aips["public"] / "data/representations/rep1/data").iterdir()}
    for pdf in pdfs:
        assert pdf.read_bytes() == masters[pdf.name].read_bytes()


@pytest.mark.parametrize(
    ("hoso", "doc", "policy", "included"),
    [
        ("01", "01", AccessPolicy(), True),
        ("01", "02", AccessPolicy(), False),
        ("01", "02", AccessPolicy(allow_conditional=True), True),
        ("01", "02", AccessPolicy(overrides={"7": "include"}), True),
        ("01", "03", AccessPolicy(allow_conditional=True), False),
        ("01", "03", AccessPolicy(include_restricted=True), True),
        ("03", "01", AccessPolicy(), False),  # a document in a secret hồ sơ is secret
        ("02", "01", AccessPolicy(allow_conditional=True), True),
        ("01", "01", AccessPolicy(overrides={"7": "exclude"}), False),
        ("01", "03", AccessPolicy(include_restricted=True, overrides={"X.0000007": "exclude"}), False),
        # named twice, included by ordinal and excluded by code: the exclusion wins
        ("01", "02", AccessPolicy(overrides={"7": "include", "X.0000007": "exclude"}), False),
        ("01", None, AccessPolicy(), True),  # no mode of its own: the hồ sơ's
    ],
)
def test_access_policy_rule(hoso: str, doc: str | None, policy: AccessPolicy, included: bool) -> None:
    decision = policy.decide(hoso, doc, ["7", "X.0000007"])
    assert decision.included is included
    assert "chế độ sử dụng" in decision.reason or "override" in decision.reason


def test_access_policy_refuses_what_it_cannot_honour() -> None:
    with pytest.raises(UserInputError, match="include_restricted"):
        AccessPolicy(overrides={"7": "include"}).decide("01", "03", ["7"])
    with pytest.raises(UserInputError, match="'include' or 'exclude'"):
        AccessPolicy(overrides={"7": "maybe"})


def test_viewer_links_are_percent_encoded_then_html_escaped() -> None:
    name = "../representations/rep1/data/H1.1_Tờ trình #5 & 100%.pdf"
    link = href(name, "page=2")
    assert link == (
        "../representations/rep1/data/H1.1_T%E1%BB%9D%20tr%C3%ACnh%20%235%20%26%20100%25.pdf#page=2"
    )
    assert unquote(link.partition("#")[0]) == name
    doc = ViewerDocument(1, "H1.1", "doc", "Tờ trình", {}, [ViewerImage(href("a b&c.jpg"), link, "x")], [])
    page = ViewerPage("T", "H1", "urn:d", "urn:a", "2026", "Org", "P", {}, [doc])
    html = render_viewer(page).decode()
    assert f'href="{link}"' in html and 'src="a%20b%26c.jpg"' in html


def _leak_markers(aips: dict[str, Any], ordinal: int) -> dict[str, bytes]:
    """Everything that identifies document ``ordinal``: codes, names, digest and content."""
    source = read_aip(aips["restricted"] / "data")
    doc = next(d for d in source.documents if d.ordinal == ordinal)
    markers: dict[str, bytes] = {"code": doc.code.encode(), "record": Path(doc.ead_rel).name.encode()}
    for field in ("subject", "imageTitle", "codeNumber"):
        if doc.fields.get(field) and len(doc.fields[field]) > 6:
            markers[field] = doc.fields[field].encode()
    for f in doc.files:
        master = aips["restricted"] / "data" / f.rel
        content = master.read_bytes()
        stem = Path(f.name).stem
        markers["name"] = stem.encode()
        markers["name-nfd"] = unicodedata.normalize("NFD", stem).encode()
        markers["sha256"] = f.sha256.encode()
        markers["content"] = content[len(content) // 2 : len(content) // 2 + 64]
    return markers


def test_restricted_and_conditional_documents_never_appear_in_the_dip(
    aips: dict[str, Any], tmp_path: Path
) -> None:
    result = build_dip(aips["restricted"], tmp_path / "dip", workers=2)
    assert result.documents_excluded == 2
    secret, conditional = _leak_markers(aips, 2), _leak_markers(aips, 3)
    # The whole-hồ sơ scan holds document 2 too: neither it nor a derivative of it may go out.
    whole = next(f for f in read_aip(aips["restricted"] / "data").unlinked if f.name == aips["whole"])
    secret["whole-sha256"] = whole.sha256.encode()
    derived_from_whole = re.compile(re.escape(Path(whole.name).stem) + r"(\.p\d{4})?\.(pdf|jpg)")
    files = _all_files(result.path)
    assert len(files) > 20
    for path in files:
        data = path.read_bytes()
        for what, marker in {**secret, **conditional}.items():
            assert marker not in data, (
                f"{path.relative_to(result.path)} carries the excluded document's {what}"
            )
        assert unicodedata.normalize("NFC", path.name).encode() not in (secret["name"], conditional["name"])
        assert not derived_from_whole.fullmatch(path.name), f"{path}: made from the whole-hồ sơ scan"
    # Listed, never silently dropped: by position and reason only.
    summary = (result.path / "documentation/thong-tin-goi.txt").read_text(encoding="utf-8")
    viewer = (result.path / "documentation/index.html").read_text(encoding="utf-8")
    for text in (summary, viewer):
        assert "Tài liệu số thứ tự 2: chế độ sử dụng 03 Mật" in text
        assert "Tài liệu số thứ tự 3: chế độ sử dụng 02 Sử dụng có điều kiện" in text
        assert "1 tệp của cả hồ sơ (không gắn với tài liệu nào) không được đưa vào" in text
    assert run_eark_validator(result.path).returncode == 0
    assert validate(result.path).valid


def test_include_restricted_is_explicit_and_recorded_in_premis(aips: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="include_restricted"):
        build_dip(
            aips["restricted"], tmp_path / "a", policy=AccessPolicy(overrides={"2": "include"}), workers=1
        )
    conditional = build_dip(
        aips["restricted"], tmp_path / "b", policy=AccessPolicy(overrides={"3": "include"}), workers=1
    )
    assert conditional.documents_included == 4  # the secret document 2 stays out
    policy = AccessPolicy(include_restricted=True, note="Giám đốc Trung tâm cho phép, QĐ số 12/QĐ-TTLT")
    result = build_dip(aips["restricted"], tmp_path / "c", policy=policy, workers=1)
    assert result.documents_excluded == 0
    # Nothing is excluded, so the whole-hồ sơ scan goes out too.
    whole_stem = Path(aips["whole"]).stem
    assert (result.path / f"representations/rep1/data/{whole_stem}.pdf").is_file()
    premis = etree.parse(str(result.path / "metadata/preservation/PREMIS.xml"))
    event = next(
        e
        for e in premis.iterfind("p:event", P)
        if e.findtext("p:eventType", namespaces=P) == "policy assignment"
    )
    assert "include_restricted=true" in event.findtext(".//p:eventDetail", namespaces=P)
    assert event.findtext(".//p:eventOutcome", namespaces=P) == "warning"
    note = event.findtext(".//p:eventOutcomeDetailNote", namespaces=P)
    assert "--include-restricted" in note and "QĐ số 12/QĐ-TTLT" in note
    secret = _leak_markers(aips, 2)
    assert any(secret["code"] in p.read_bytes() for p in _all_files(result.path))
    assert run_eark_validator(result.path).returncode == 0


def test_selected_documents_and_derivative_cache(aips: dict[str, Any], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build_dip(aips["public"], tmp_path / "one", documents=[1, 3], cache_dir=cache, workers=1)
    assert first.documents_included == 2 and first.derivatives_cached == 0
    source = read_aip(aips["public"] / "data")
    code_of_3 = next(d.code for d in source.documents if d.ordinal == 3)
    second = build_dip(aips["public"], tmp_path / "two", documents=[code_of_3, 4], cache_dir=cache, workers=1)
    assert second.documents_included == 2 and second.derivatives_cached == 1  # document 3's master
    assert second.objid != first.objid
    again = build_dip(aips["public"], tmp_path / "two", documents=[code_of_3, 4], cache_dir=cache, workers=1)
    assert again.skipped and again.path == second.path
    with pytest.raises(UserInputError, match="no document"):
        build_dip(aips["public"], tmp_path / "three", documents=[99], workers=1)


def test_dip_from_a_zip_of_the_aip(aips: dict[str, Any], tmp_path: Path) -> None:
    archive = export_zip(aips["public"], tmp_path / "zip")
    result = build_dip(archive, tmp_path / "dip", workers=1)
    assert validate(result.path).valid


def test_damaged_masters_are_skipped_with_a_premis_event(aips: dict[str, Any], tmp_path: Path) -> None:
    """A truncated TIFF and a truncated PDF in the AIP: reported with their paths, never a crash."""
    scans = tmp_path / "scans"
    shutil.copytree(aips["scans"], scans)
    description = json.loads(json.dumps(aips["description"]))
    for doc in description["documents"]:
        doc["mode"] = "01"
    tiff = next(f for d in description["documents"] for f in d["files"] if f.endswith(".tif"))
    pdf = description["documents"][0]["files"][0]
    for name in (tiff, pdf):
        on_disk = next(p for p in scans.iterdir() if unicodedata.normalize("NFC", p.name) == name)
        data = on_disk.read_bytes()
        on_disk.write_bytes(data[: len(data) // 2])
    aip = build_aip(description, scans, tmp_path / "aip", workers=1).path
    result = build_dip(aip, tmp_path / "dip", workers=2)
    assert len(result.failed_masters) == 2
    pdf = PurePosixPath(target_rel(pdf)).name  # the package stores "#" of the producer's name as "_"
    assert {Path(m).name for m in result.failed_masters} == {tiff, pdf}
    rep = etree.parse(str(result.path / "representations/rep1/metadata/preservation/PREMIS_rep1.xml"))
    failures = [
        e for e in rep.iterfind("p:event", P) if e.findtext(".//p:eventOutcome", namespaces=P) == "failure"
    ]
    assert len(failures) == 2
    notes = " ".join(e.findtext(".//p:eventOutcomeDetailNote", namespaces=P) for e in failures)
    assert tiff in notes and pdf in notes and "truncated" in notes
    viewer = (result.path / "documentation/index.html").read_text(encoding="utf-8")
    assert "không tạo được bản sao truy cập" in viewer
    assert run_eark_validator(result.path).returncode == 0
    assert validate(result.path).valid


def test_cli_build_dip_json_and_errors(aips: dict[str, Any], tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(
        main,
        ["build-dip", str(aips["restricted"]), str(tmp_path / "dip"), "--json", "-w", "1", "--quality", "70"],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["ok"] and data["documents_excluded"] == 2
    assert Path(data["path"], "documentation/index.html").is_file()
    bad = runner.invoke(main, ["build-dip", str(tmp_path / "missing"), str(tmp_path / "dip2")])
    assert bad.exit_code == 2 and "no such file" in bad.output and "Traceback" not in bad.output
    clash = runner.invoke(
        main, ["build-dip", str(aips["public"]), str(tmp_path / "d3"), "--include", "2", "--exclude", "2"]
    )
    assert clash.exit_code == 2
    checked = runner.invoke(main, ["validate", data["path"], "--json"])
    assert checked.exit_code == 0 and json.loads(checked.output)["package_type"] == "DIP"
    not_aip = runner.invoke(main, ["build-dip", data["path"], str(tmp_path / "d5")])
    assert not_aip.exit_code == 2 and "not an AIP" in not_aip.output
    secret = runner.invoke(
        main, ["build-dip", str(aips["restricted"]), str(tmp_path / "d4"), "--include", "2"]
    )
    assert secret.exit_code == 2 and "include_restricted" in secret.output


# --- the viewer in a real browser -----------------------------------------------------------------


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is missing in CI: .ci/run installs the Debian package `chromium`")
    pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    raise AssertionError


def _browser(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tmp_path / "chromium-profile"
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, timeout=120, check=False)


def test_viewer_renders_documents_and_thumbnails_in_headless_chromium(
    aips: dict[str, Any], tmp_path: Path
) -> None:
    result = build_dip(
        aips["restricted"], tmp_path / "dip", policy=AccessPolicy(allow_conditional=True), workers=2
    )
    page = (result.path / "documentation/index.html").as_uri()
    dom = _browser(tmp_path, "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = etree.HTML(dom.stdout)
    body = html.find("body")
    thumbnails = result.thumbnails
    assert body.get("data-thumbs-loaded") == str(thumbnails) and body.get("data-thumbs-broken") == "0"
    titles = [h.xpath("string()") for h in html.iterfind(".//article/h3")]
    source = read_aip(aips["restricted"] / "data")
    assert len(titles) == result.documents_included == 4
    for doc in source.documents:
        if doc.ordinal != 2:
            assert any(t.startswith(f"{doc.ordinal}. ") for t in titles)
    assert html.findtext(".//h1") == source.title
    assert html.get("lang") == "vi"
    # Every link and thumbnail leads to a file inside the DIP (nothing on a network), percent-encoded
    # so that a name with "#", "%" or a space still works (the thumbnails rendered, checked above).
    targets = [a.get("href") for a in html.iterfind(".//a")] + [i.get("src") for i in html.iterfind(".//img")]
    for target in targets:
        path, _sep, fragment = target.partition("#")
        assert "://" not in path and " " not in path and (fragment == "" or fragment.startswith("page="))
        assert (result.path / "documentation" / unquote(path)).resolve().is_file(), target
    awkward = quote(PurePosixPath(target_rel(aips["awkward"])).stem)  # "#" is "_" in the package
    assert awkward.endswith("%20_5%20%26%20ph%E1%BB%A5%20l%E1%BB%A5c")
    assert f"../representations/rep1/data/{awkward}.pdf" in targets
    assert f"../representations/rep1/data/thumbnails/{awkward}.p0001.jpg" in targets
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dip-viewer.png"
    shot.unlink(missing_ok=True)
    done = _browser(tmp_path, "--hide-scrollbars", "--window-size=1280,1600", f"--screenshot={shot}", page)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = pyvips.Image.new_from_file(str(shot))
    assert (image.width, image.height) == (1280, 1600)
    assert image.deviate() > 20  # a rendered page, not a blank one


_MEMORY_PROBE = """
import sys
from pathlib import Path, PurePosixPath
from oais_preserve.derivatives import DerivativeSettings, configure_worker, make_derivatives

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
import pyvips
configure_worker()  # as the DIP builder's worker processes are
pyvips.Image.black(8, 8).avg()  # libvips started: its threads count in the baseline
base = rss("VmRSS:")
out = make_derivatives(Path(sys.argv[1]), "0" * 64, "image", DerivativeSettings(), Path(sys.argv[2]))
print(base, rss("VmHWM:"), out.outputs[0].width, out.outputs[0].height)
"""


def test_derivatives_stream_the_master_instead_of_decoding_it_whole(tmp_path: Path) -> None:
    """An 8000 x 10000 RGB uncompressed TIFF holds 240 MB of pixels; making its access copy and
    thumbnail must take far less than that above the process's baseline."""
    master = tmp_path / "big.tif"
    noise = pyvips.Image.gaussnoise(8000, 10000, sigma=40, mean=128).cast("uchar")
    noise.bandjoin([noise, noise]).copy(interpretation="srgb").tiffsave(str(master), compression="none")
    pixels = 8000 * 10000 * 3
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(master), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    base, peak, width, height = (int(x) for x in done.stdout.split())
    assert (width, height) == (1600, 2000)
    assert peak - base < pixels // 2, (
        f"grew by {(peak - base) / 1e6:.0f} MB for {pixels / 1e6:.0f} MB of pixels"
    )
