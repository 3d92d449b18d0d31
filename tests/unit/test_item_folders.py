"""Result folder names: bounded, legal and unique for any legal file name."""

from __future__ import annotations

import pytest

from autorust.reporting.item_files import folder_name, safe_stem

THREAD = "0123456789abcdef-12345678"


@pytest.mark.parametrize(
    "name",
    ["t" * 251 + ".png", "é" * 120 + ".png", "line\nbreak.png", "tab\there.png", "a/b.png",
     'q"u|o<t>e*s?.png', "   .png", "....png", ".png", "\x00\x1f.png", "日本語の課題.png"],
)  # fmt: skip
def test_folder_names_are_bounded_and_legal(name: str) -> None:
    folder = folder_name(f"/images/{name}", THREAD)
    assert len(folder.encode()) <= 100
    assert not any(ch in folder for ch in '/\\\n\t\x00<>:"|?*')
    assert not folder.startswith((".", " "))
    folder.encode("utf-8")  # a valid UTF-8 file name


def test_names_that_collide_after_cleaning_or_by_case_get_their_own_folders() -> None:
    names = ["Case.png", "case.png", "a|b.png", "a?b.png", "t" * 200 + "1.png", "t" * 200 + "2.png"]
    folders = [folder_name(name, THREAD) for name in names]
    assert len({f.lower() for f in folders}) == len(names)


def test_readable_stems_stay_readable() -> None:
    assert folder_name("/x/palindrome.png", THREAD).startswith("palindrome-0123456789abcdef-")
    assert safe_stem("Straße ünï.png") == "Straße ünï"
    assert safe_stem("é" * 100 + ".png") == "é" * 30  # 60 bytes, cut on a character boundary


def test_the_whole_thread_identity_names_the_folder() -> None:
    fork = f"{THREAD}-fork-0a1b2c3d"
    assert folder_name("/x/p.png", THREAD) != folder_name("/x/p.png", fork)
    assert fork in folder_name("/x/p.png", fork)
    other_settings = "0123456789abcdef-87654321"  # same image, other configuration
    assert folder_name("/x/p.png", THREAD) != folder_name("/x/p.png", other_settings)


def test_same_named_images_from_different_folders_get_their_own_folders() -> None:
    assert folder_name("/a/task.png", THREAD) != folder_name("/b/task.png", THREAD)
