"""TT05 code lists (tt05.md §7) and the TT02 → TT05 legacy mappings (§12), as data.

The XML always carries the code only. On input, people write the code (``"01"``), the label
(``"Vĩnh viễn"``) or both (``"01: Vĩnh viễn"``), often in NFD and in any case: :func:`normalize_code`
accepts all of these and rejects anything else. Nothing here ever falls back to a default.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

_Codes = Mapping[str, str]


def _frozen(pairs: dict[str, str]) -> _Codes:
    return MappingProxyType(pairs)


_BOOLEAN = {"1": "Có", "0": "Không"}

#: code list name (the TT05 XML element) -> {code: Vietnamese label}, in TT05 order.
CODE_LISTS: Mapping[str, _Codes] = MappingProxyType(
    {
        "maintenance": _frozen(
            {
                "01": "Vĩnh viễn",
                "02": "70 năm",
                "03": "50 năm",
                "04": "30 năm",
                "05": "20 năm",
                "06": "10 năm",
                "07": "Khác",
            }
        ),
        "mode": _frozen({"01": "Công khai", "02": "Sử dụng có điều kiện", "03": "Mật"}),
        "language": _frozen(
            {
                "01": "Tiếng Việt",
                "02": "Anh",
                "03": "Pháp",
                "04": "Nga",
                "05": "Trung",
                "06": "Việt Anh",
                "07": "Việt Nga",
                "08": "Việt Pháp",
                "09": "Hán Nôm",
                "10": "Việt Trung",
                "11": "Khác",
            }
        ),
        "confidenceLevel": _frozen({"01": "Gốc điện tử", "02": "Số hóa", "03": "Hỗn hợp"}),
        "format": _frozen({"01": "Tốt", "02": "Bình thường", "03": "Hỏng"}),
        "riskRecovery": _frozen(dict(_BOOLEAN)),
        "riskRecoveryStatus": _frozen({"01": "Đã dự phòng", "02": "Chưa dự phòng"}),
        "process": _frozen({"1": "Có quy trình xử lý đi kèm", "0": "Không"}),
        "docAttached": _frozen(dict(_BOOLEAN)),
        "typeName": _frozen(
            {
                "01": "Nghị quyết",
                "02": "Quyết định",
                "03": "Chỉ thị",
                "04": "Quy chế",
                "05": "Quy định",
                "06": "Thông cáo",
                "07": "Thông báo",
                "08": "Hướng dẫn",
                "09": "Chương trình",
                "10": "Kế hoạch",
                "11": "Phương án",
                "12": "Đề án",
                "13": "Dự án",
                "14": "Báo cáo",
                "15": "Tờ trình",
                "16": "Giấy ủy quyền",
                "17": "Phiếu gửi",
                "18": "Phiếu chuyển",
                "19": "Phiếu báo",
                "20": "Biên bản",
                "21": "Hợp đồng",
                "22": "Công văn",
                "23": "Công điện",
                "24": "Bản ghi nhớ",
                "25": "Bản thỏa thuận",
                "26": "Giấy mời",
                "27": "Giấy giới thiệu",
                "28": "Giấy nghỉ phép",
                "29": "Thư công",
                "30": "Bản đồ",
                "31": "Bản vẽ kỹ thuật",
                "32": "Khác",
            }
        ),
        "typePic": _frozen({"01": "Phim âm bản", "02": "Ảnh"}),
        "colour": _frozen({"01": "Màu", "02": "Đen trắng"}),
        "typeMedia": _frozen({"01": "Âm thanh", "02": "Video"}),
        # Ours, not TT05: TT05 names the fonds status (đóng, mở) but gives no codes.
        "fondsStatus": _frozen({"closed": "Đóng", "open": "Mở"}),
        # Ours: the unit stored next to each fonds counter (tt05.md §11).
        "counterUnit": _frozen(
            {
                "page": "Trang",
                "sheet": "Tờ",
                "shelfMetre": "Mét giá",
                "hoso": "Hồ sơ",
                "document": "Tài liệu",
            }
        ),
        "recordStatus": _frozen(
            {
                "NEW": "Mới",
                "SUPPLEMENT": "Bổ sung",
                "REPLACEMENT": "Thay thế",
                "TEST": "Thử nghiệm",
                "OTHER": "Khác",
            }
        ),
        "oaisPackageType": _frozen(
            {"SIP": "Gói tin nộp lưu", "AIP": "Gói tin lưu trữ", "DIP": "Gói tin khai thác"}
        ),
    }
)

#: Extra spellings accepted as if they were labels (common in spreadsheets).
_ALIASES: Mapping[str, Mapping[str, str]] = {
    "process": {"có": "1", "không": "0"},
    "language": {"việt": "01"},
}

#: TT02 free text -> TT05 code (tt05.md §12); keys are compared in :func:`_key` form.
_LEGACY: Mapping[str, Mapping[str, str]] = {
    "maintenance": {"vĩnh viễn": "01", "khác": "07"},
    "mode": {"công khai": "01", "hạn chế": "02", "hạn chế sử dụng": "02", "mật": "03"},
    "format": {"tốt": "01", "bình thường": "02", "hỏng": "03"},
    "language": {"hán": "09", "nôm": "09", "hán-nôm": "09"},
}

_YEARS_TO_MAINTENANCE = {70: "02", 50: "03", 30: "04", 20: "05", 10: "06"}
_YEARS = re.compile(r"(\d+)\s*năm")
_LIST_SEPARATORS = re.compile(r"[,;/]")


def _key(text: str) -> str:
    """Comparison form: NFC, case-folded, whitespace collapsed."""
    folded = unicodedata.normalize("NFC", text).casefold()
    return " ".join(folded.split())


def code_list(list_name: str) -> Mapping[str, str]:
    """The ``{code: label}`` map of a list; ValueError on an unknown list name."""
    try:
        return CODE_LISTS[list_name]
    except KeyError:
        known = ", ".join(CODE_LISTS)
        raise ValueError(f"danh mục không tồn tại (unknown code list): {list_name!r}; có: {known}") from None


def label(list_name: str, code: str) -> str:
    """The Vietnamese label of one code."""
    codes = code_list(list_name)
    if code not in codes:
        raise ValueError(_unknown_message(list_name, code, codes))
    return codes[code]


def describe_codes(list_name: str) -> str:
    """``"01 = Vĩnh viễn, 02 = 70 năm, …"``: the allowed values, for error messages."""
    return ", ".join(f"{code} = {text}" for code, text in code_list(list_name).items())


def _unknown_message(list_name: str, value: object, codes: Mapping[str, str]) -> str:
    allowed = ", ".join(f"{code} = {text}" for code, text in codes.items())
    return (
        f"giá trị không có trong danh mục {list_name} (unknown {list_name} value): {value!r}; "
        f"hợp lệ (allowed): {allowed}"
    )


def _match_one(codes: Mapping[str, str], text: str, aliases: Mapping[str, str]) -> str | None:
    key = _key(text)
    for code, name in codes.items():
        if key in (_key(code), _key(name)):
            return code
    if key in aliases:
        return aliases[key]
    if key.isdigit():
        # Spreadsheets drop leading zeros ("1" for "01"); match on the number.
        number = int(key)
        return next((code for code in codes if code.isdigit() and int(code) == number), None)
    return None


def _match_code_and_label(codes: Mapping[str, str], text: str, aliases: Mapping[str, str]) -> str | None:
    """``"01: Vĩnh viễn"`` matches only when both halves name the same code."""
    if ":" not in text:
        return None
    head, _, tail = text.partition(":")
    by_code = _match_one(codes, head, {})
    by_label = _match_one(codes, tail, aliases)
    return by_code if by_code is not None and by_code == by_label else None


def _as_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def normalize_code(list_name: str, value: object) -> str:
    """Return the TT05 code for a code, a label or ``"code: label"``; ValueError otherwise.

    Integers and booleans are read as their digits (``1`` -> ``"01"`` where the list has two-digit
    codes) because spreadsheets lose leading zeros.
    """
    codes = code_list(list_name)
    text = _as_text(value)
    if text is None:
        raise ValueError(_unknown_message(list_name, value, codes))
    aliases = _ALIASES.get(list_name, {})
    found = _match_one(codes, text, aliases) or _match_code_and_label(codes, text, aliases)
    if found is None:
        raise ValueError(_unknown_message(list_name, value, codes))
    return found


def normalize_code_list(list_name: str, value: object) -> str:
    """Several codes of one list (``language``), joined by commas as TT05 writes them: ``"01,03"``."""
    text = _as_text(value)
    if text is None:
        raise ValueError(_unknown_message(list_name, value, code_list(list_name)))
    parts = [part for part in _LIST_SEPARATORS.split(text) if part.strip()]
    if not parts:
        raise ValueError(_unknown_message(list_name, value, code_list(list_name)))
    return ",".join(normalize_code(list_name, part) for part in parts)


def _legacy_maintenance(key: str) -> str | None:
    match = _YEARS.fullmatch(key)
    if match is None:
        return None
    # Durations outside the TT05 list are "07 Khác" (tt05.md §12).
    return _YEARS_TO_MAINTENANCE.get(int(match.group(1)), "07")


def _legacy_one(list_name: str, text: str) -> str | None:
    try:
        return normalize_code(list_name, text)
    except ValueError:
        pass
    key = _key(text)
    if list_name == "language" and key.startswith("tiếng "):
        return _legacy_one(list_name, key.removeprefix("tiếng "))
    found = _LEGACY.get(list_name, {}).get(key)
    if found is None and list_name == "maintenance":
        found = _legacy_maintenance(key)
    return found


def legacy_to_tt05(list_name: str, text: str) -> str | None:
    """Map a TT02 free-text value to its TT05 code, or None when it cannot be mapped.

    The caller reports every None (tt05.md §12: keep the original text, report what did not map).
    ``language`` may hold several values separated by ``,`` ``;`` or ``/``; the result joins the
    codes with commas, and is None if any part does not map.
    """
    code_list(list_name)  # ValueError on an unknown list name
    if list_name != "language":
        return _legacy_one(list_name, text)
    parts = [part for part in _LIST_SEPARATORS.split(text) if part.strip()]
    codes = [_legacy_one(list_name, part) for part in parts]
    if not codes or any(code is None for code in codes):
        return None
    return ",".join(code for code in codes if code is not None)
