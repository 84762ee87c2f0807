"""Temporal payload encryption: AES-256-GCM under keys named by id, for rotation.

With ``DUBAN_PAYLOAD_KEYS`` set, every payload Duban hands Temporal (workflow input, update
arguments and results, activity input, query answers, failure messages) leaves the process
encrypted, so task texts and units cannot be read in Temporal's database or UI. The first
key encrypts; every listed key decrypts. A payload records the id of the key it was
encrypted under, so a new key is rolled out by putting it first and keeping the old ones
until no open workflow's history needs them.

A payload that is not encrypted passes through decoding unchanged: histories written before
encryption was turned on keep working.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
ENCODING_KEY = "encoding"
KEY_ID_KEY = "encryption-key-id"
_NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
KEY_SETTING = "DUBAN_PAYLOAD_KEYS"


class PayloadKeyError(ValueError):
    """A payload Duban cannot decrypt: its key is not configured, or it does not verify."""


@dataclass(frozen=True)
class PayloadKey:
    key_id: str
    secret: bytes = dataclasses.field(repr=False)


def parse_payload_keys(text: str) -> list[PayloadKey]:
    """``"2026-12:BASE64,2026-06:BASE64"`` into keys, first one first. Each key is 32 random
    bytes in standard base64 (``openssl rand -base64 32``). Messages never quote a key."""
    keys: list[PayloadKey] = []
    for position, item in enumerate((part.strip() for part in text.split(",")), start=1):
        if not item:
            continue
        key_id, colon, encoded = item.partition(":")
        key_id = key_id.strip()
        if not colon or not _KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"key {position}: expected id:base64key with an id of letters, digits, . _ -"
            )
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"key {key_id!r}: not base64") from None
        if len(secret) != 32:
            raise ValueError(
                f"key {key_id!r}: {len(secret)} bytes, expected 32 (openssl rand -base64 32)"
            )
        if any(key.key_id == key_id for key in keys):
            raise ValueError(f"key id {key_id!r} is listed twice")
        keys.append(PayloadKey(key_id, secret))
    if not keys:
        raise ValueError("no keys; leave it unset to turn encryption off")
    return keys


class EncryptionCodec(PayloadCodec):
    """AES-GCM over each whole serialized payload (its metadata too, so the JSON encoding
    name is hidden as well). The key id is the associated data: a payload cannot be
    relabelled to another key."""

    def __init__(self, keys: Sequence[PayloadKey]) -> None:
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        self._encrypting = keys[0]
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in keys}

    @property
    def encrypting_key_id(self) -> str:
        return self._encrypting.key_id

    def derived_key(self, purpose: str) -> bytes:
        """A key for another use (signing the codec's browser sessions), the same on every
        replica that holds the keys; rotating the encrypting key replaces it."""
        return hmac.new(self._encrypting.secret, purpose.encode(), hashlib.sha256).digest()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self._encrypting.key_id
        cipher = self._ciphers[key_id]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            encoded.append(
                Payload(
                    metadata={ENCODING_KEY: ENCODING, KEY_ID_KEY: key_id.encode()},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get(ENCODING_KEY) != ENCODING:
                decoded.append(payload)  # written before encryption was turned on
                continue
            key_id = payload.metadata.get(KEY_ID_KEY, b"").decode("utf-8", "replace")
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise PayloadKeyError(
                    f"payload encrypted under key id {key_id!r}, which {KEY_SETTING} does not "
                    f"hold (it holds {', '.join(sorted(self._ciphers))})"
                )
            nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
            try:
                plain = cipher.decrypt(nonce, sealed, key_id.encode())
            except InvalidTag:
                raise PayloadKeyError(
                    f"payload under key id {key_id!r} does not decrypt: another key of that "
                    "id, or the payload was altered"
                ) from None
            inner = Payload()
            inner.ParseFromString(plain)
            decoded.append(inner)
        return decoded


def data_converter(keys: Sequence[PayloadKey] | None) -> DataConverter:
    """The pydantic converter, encrypting when there are keys. With encryption, failure
    messages and stack traces go into an encrypted payload too: they may quote a task."""
    if not keys:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def encrypts(converter: DataConverter) -> bool:
    return isinstance(converter.payload_codec, EncryptionCodec)
