"""The Linux stable-ID reader against fake filesystem roots."""

import builtins
from pathlib import Path
from typing import Callable, Optional

import pytest

from exisone._hardware import _linux, stable_hash

MACHINE_ID = "3d1219c7c4c5404aaa1f6d2a48adfda4"
OTHER_MACHINE_ID = "0f5e3c2b1a09487766554433221100ff"
DMI_UUID = "4C4C4544-0042-3510-8052-B4C04F4E3432"


def make_root(
    tmp_path: Path,
    etc: Optional[str] = None,
    dbus: Optional[str] = None,
    dmi: Optional[str] = None,
) -> str:
    """A directory laid out like / with the given file contents (None: file absent)."""
    for relative, content in (
        (_linux.MACHINE_ID_FILES[0], etc),
        (_linux.MACHINE_ID_FILES[1], dbus),
        (_linux.DMI_PRODUCT_UUID, dmi),
    ):
        if content is not None:
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    return str(tmp_path)


def without_dmi(root: str) -> Callable[[str], Optional[str]]:
    """A reader for which the DMI file is unreadable, as for a non-root user."""

    def read(path: str) -> Optional[str]:
        if path.endswith(_linux.DMI_PRODUCT_UUID):
            return None
        return _linux.read_text(path)

    return read


def test_machine_id_is_the_identifier(tmp_path: Path) -> None:
    root = make_root(tmp_path, etc=MACHINE_ID + "\n", dbus=MACHINE_ID + "\n")
    assert _linux.stable_components(root) == ["machine-id", MACHINE_ID]


@pytest.mark.parametrize(
    "content", [MACHINE_ID, MACHINE_ID + "\n", f"  {MACHINE_ID}\n\n", MACHINE_ID.upper() + "\r\n"]
)
def test_white_space_and_case_do_not_matter(tmp_path: Path, content: str) -> None:
    assert _linux.stable_components(make_root(tmp_path, etc=content)) == ["machine-id", MACHINE_ID]


def test_dbus_machine_id_is_the_fallback_and_gives_the_same_id(tmp_path: Path) -> None:
    only_dbus = make_root(tmp_path / "a", dbus=MACHINE_ID + "\n")
    only_etc = make_root(tmp_path / "b", etc=MACHINE_ID + "\n")
    assert _linux.stable_components(only_dbus) == _linux.stable_components(only_etc)


@pytest.mark.parametrize("etc", ["", "\n", "uninitialized\n", "0" * 32 + "\n", "not-a-machine-id"])
def test_unusable_etc_machine_id_falls_back_to_dbus(tmp_path: Path, etc: str) -> None:
    root = make_root(tmp_path, etc=etc, dbus=OTHER_MACHINE_ID + "\n")
    assert _linux.stable_components(root) == ["machine-id", OTHER_MACHINE_ID]


def test_etc_wins_when_both_files_differ(tmp_path: Path) -> None:
    root = make_root(tmp_path, etc=MACHINE_ID, dbus=OTHER_MACHINE_ID)
    assert _linux.stable_components(root) == ["machine-id", MACHINE_ID]


def test_dmi_uuid_is_used_only_without_a_machine_id(tmp_path: Path) -> None:
    root = make_root(tmp_path, dmi=DMI_UUID + "\n")
    assert _linux.stable_components(root) == ["dmi-product-uuid", DMI_UUID.lower()]


def test_root_and_non_root_get_the_same_id(tmp_path: Path) -> None:
    """With a machine ID, whether DMI is readable (root) or not (user) changes nothing."""
    root = make_root(tmp_path, etc=MACHINE_ID, dmi=DMI_UUID)
    as_root = _linux.stable_components(root)
    as_user = _linux.stable_components(root, read=without_dmi(root))
    assert as_root == as_user == ["machine-id", MACHINE_ID]


def test_non_root_without_machine_id_gets_nothing_rather_than_another_id(tmp_path: Path) -> None:
    root = make_root(tmp_path, dmi=DMI_UUID)
    assert _linux.stable_components(root) is not None
    assert _linux.stable_components(root, read=without_dmi(root)) is None


@pytest.mark.parametrize(
    "dmi",
    [
        "00000000-0000-0000-0000-000000000000",
        "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
        "03000200-0400-0500-0006-000700080009",
        "Not Settable",
        "",
    ],
)
def test_placeholder_dmi_uuids_are_not_identifiers(tmp_path: Path, dmi: str) -> None:
    assert _linux.stable_components(make_root(tmp_path, dmi=dmi)) is None


def test_nothing_available(tmp_path: Path) -> None:
    assert _linux.stable_components(make_root(tmp_path)) is None


def test_different_machine_ids_give_different_ids(tmp_path: Path) -> None:
    first = _linux.stable_components(make_root(tmp_path / "a", etc=MACHINE_ID))
    second = _linux.stable_components(make_root(tmp_path / "b", etc=OTHER_MACHINE_ID))
    assert first is not None and second is not None
    assert stable_hash(first) != stable_hash(second)


def test_same_value_from_machine_id_and_dmi_are_different_sources(tmp_path: Path) -> None:
    machine = _linux.stable_components(make_root(tmp_path / "a", etc=MACHINE_ID))
    dmi = _linux.stable_components(make_root(tmp_path / "b", dmi=DMI_UUID))
    assert machine is not None and dmi is not None
    assert machine[0] != dmi[0]


def test_read_text_returns_none_for_missing_directory_and_denied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _linux.read_text(str(tmp_path / "missing")) is None
    assert _linux.read_text(str(tmp_path)) is None  # a directory

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    target = tmp_path / "product_uuid"
    target.write_text(DMI_UUID)
    assert _linux.read_text(str(target)) == DMI_UUID
    monkeypatch.setattr(builtins, "open", denied)
    assert _linux.read_text(str(target)) is None


def test_describe_sources_names_every_path() -> None:
    described = _linux.describe_sources()
    assert "/etc/machine-id" in described
    assert "/var/lib/dbus/machine-id" in described
    assert "/sys/class/dmi/id/product_uuid" in described
