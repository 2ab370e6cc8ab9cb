"""FieldCipher: PII encrypted with AES-256-GCM under a named key, plus an HMAC blind index."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from db.crypto import DecryptionError, FieldCipher, generate_key

EMAIL = "customers.email"
PHONE = "customers.phone"


def cipher(keyring: str | None = None, blind_index_key: str | None = None) -> FieldCipher:
    return FieldCipher.from_config(
        keyring or f"k1:{generate_key()}", blind_index_key or generate_key()
    )


def flip_last_payload_char(token: str) -> str:
    # The final base64 character can carry only padding bits, so a change there may decode to
    # the same bytes: flip the last character of the tag's first full 4-character group instead.
    prefix, payload = token.rsplit(":", 1)
    index = len(payload) - (len(payload) % 4 or 4) - 1
    flipped = "A" if payload[index] != "A" else "B"
    return f"{prefix}:{payload[:index]}{flipped}{payload[index + 1 :]}"


def test_decrypt_returns_what_was_encrypted() -> None:
    fields = cipher()

    token = fields.encrypt("Ana.Lopez+vip@example.com", context=EMAIL)

    assert fields.decrypt(token, context=EMAIL) == "Ana.Lopez+vip@example.com"


def test_round_trip_keeps_non_ascii_text() -> None:
    fields = cipher()

    assert fields.decrypt(fields.encrypt("Zoë Ñúñez 山田", context=EMAIL), context=EMAIL) == (
        "Zoë Ñúñez 山田"
    )


def test_ciphertext_never_contains_the_plaintext_and_differs_each_time() -> None:
    fields = cipher()

    first = fields.encrypt("ana@example.com", context=EMAIL)
    second = fields.encrypt("ana@example.com", context=EMAIL)

    assert first != second  # a fresh random nonce per value
    assert "ana@example.com" not in first
    assert fields.decrypt(first, context=EMAIL) == fields.decrypt(second, context=EMAIL)


def test_ciphertext_names_the_active_key() -> None:
    fields = cipher(f"2026-q4:{generate_key()},2026-q3:{generate_key()}")

    version, key_id, _payload = fields.encrypt("ana@example.com", context=EMAIL).split(":", 2)

    assert (version, key_id) == ("v1", "2026-q4")


def test_values_written_under_an_old_key_still_decrypt_after_rotation() -> None:
    old_key, new_key, blind_key = generate_key(), generate_key(), generate_key()
    before = cipher(f"old:{old_key}", blind_key)
    written_before = before.encrypt("ana@example.com", context=EMAIL)

    after = cipher(f"new:{new_key},old:{old_key}", blind_key)
    written_after = after.encrypt("ana@example.com", context=EMAIL)

    assert after.decrypt(written_before, context=EMAIL) == "ana@example.com"
    assert written_after.split(":")[1] == "new"
    with pytest.raises(DecryptionError):
        before.decrypt(written_after, context=EMAIL)


def test_tampered_ciphertext_is_refused() -> None:
    fields = cipher()
    token = fields.encrypt("ana@example.com", context=EMAIL)

    with pytest.raises(DecryptionError):
        fields.decrypt(flip_last_payload_char(token), context=EMAIL)


def test_ciphertext_moved_to_another_column_is_refused() -> None:
    fields = cipher()
    token = fields.encrypt("ana@example.com", context=EMAIL)

    with pytest.raises(DecryptionError):
        fields.decrypt(token, context=PHONE)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t.replace(":k1:", ":k9:", 1), id="unknown-key-id"),
        pytest.param(lambda t: "v2" + t[2:], id="unknown-version"),
        pytest.param(lambda t: t.rsplit(":", 1)[0], id="missing-payload"),
        pytest.param(lambda t: t[: t.rindex(":") + 8], id="truncated-payload"),
        pytest.param(lambda t: "plain text", id="not-a-ciphertext"),
    ],
)
def test_values_not_made_by_our_keys_raise_decryption_error(
    mangle: Callable[[str], str],
) -> None:
    fields = cipher(f"k1:{generate_key()}")
    token = fields.encrypt("ana@example.com", context=EMAIL)

    with pytest.raises(DecryptionError):
        fields.decrypt(mangle(token), context=EMAIL)


def test_another_deployments_key_cannot_decrypt() -> None:
    ours = cipher(f"k1:{generate_key()}")
    theirs = cipher(f"k1:{generate_key()}")

    with pytest.raises(DecryptionError):
        theirs.decrypt(ours.encrypt("ana@example.com", context=EMAIL), context=EMAIL)


def test_blind_index_is_deterministic_and_ignores_case_and_surrounding_space() -> None:
    fields = cipher()

    index = fields.blind_index("ana@example.com", context=EMAIL)

    assert fields.blind_index("ana@example.com", context=EMAIL) == index
    assert fields.blind_index("  Ana@Example.COM\n", context=EMAIL) == index
    assert fields.blind_index("ana2@example.com", context=EMAIL) != index
    assert "ana" not in index


def test_blind_index_differs_per_context() -> None:
    fields = cipher()

    assert fields.blind_index("ana@example.com", context=EMAIL) != fields.blind_index(
        "ana@example.com", context=PHONE
    )


def test_blind_index_differs_per_key_but_survives_encryption_key_rotation() -> None:
    keyring = f"k1:{generate_key()}"
    blind_key = generate_key()

    same_key = cipher(keyring, blind_key).blind_index("ana@example.com", context=EMAIL)
    rotated = cipher(f"k2:{generate_key()},{keyring}", blind_key).blind_index(
        "ana@example.com", context=EMAIL
    )
    other_key = cipher(keyring, generate_key()).blind_index("ana@example.com", context=EMAIL)

    assert rotated == same_key
    assert other_key != same_key


def test_generated_keys_are_256_bit() -> None:
    key = generate_key()

    assert len(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))) == 32
    assert generate_key() != key


@pytest.mark.parametrize("key_bytes", [16, 24, 31, 33, 0])
def test_keys_that_are_not_32_bytes_are_rejected(key_bytes: int) -> None:
    short = base64.urlsafe_b64encode(b"k" * key_bytes).decode().rstrip("=")

    with pytest.raises(ValueError, match="32 bytes"):
        FieldCipher.from_config(f"k1:{short}", generate_key())


def test_one_bad_key_in_the_keyring_is_rejected() -> None:
    short = base64.urlsafe_b64encode(b"k" * 16).decode()

    with pytest.raises(ValueError, match="'old'"):
        FieldCipher.from_config(f"new:{generate_key()},old:{short}", generate_key())


def test_active_key_must_be_in_the_keyring() -> None:
    key = base64.urlsafe_b64decode(generate_key() + "=")

    with pytest.raises(ValueError, match="active key"):
        FieldCipher(keys={"k1": key}, active_key_id="k2", blind_index_key=key)


@pytest.mark.parametrize(
    ("keyring", "blind_index_key", "problem"),
    [
        (f"a:{generate_key()},a:{generate_key()}", generate_key(), "appears twice"),
        (f":{generate_key()}", generate_key(), "may not be empty"),
        (f"a:{generate_key()}", base64.urlsafe_b64encode(b"short").decode(), "at least 32 bytes"),
    ],
)
def test_a_keyring_that_would_lose_data_is_rejected(
    keyring: str, blind_index_key: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        FieldCipher.from_config(keyring, blind_index_key)
