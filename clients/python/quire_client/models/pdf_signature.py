from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="PdfSignature")



@_attrs_define
class PdfSignature:
    """ What a signed PDF's job records of its signature.

        Attributes:
            certificate_sha256 (str): sha256 of the signer certificate (DER), hex: what a verifier pins.
            level (str): The PAdES baseline level: `B-B`, or `B-T` with a time-stamp (`signing.timestamp_url`).
            signed_at (str): When it was signed (RFC 3339), as the signature dictionary's `/M` says.
            signer (str): The signer certificate's subject (RFC 4514).
     """

    certificate_sha256: str
    level: str
    signed_at: str
    signer: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        certificate_sha256 = self.certificate_sha256

        level = self.level

        signed_at = self.signed_at

        signer = self.signer


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "certificate_sha256": certificate_sha256,
            "level": level,
            "signed_at": signed_at,
            "signer": signer,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        certificate_sha256 = d.pop("certificate_sha256")

        level = d.pop("level")

        signed_at = d.pop("signed_at")

        signer = d.pop("signer")

        pdf_signature = cls(
            certificate_sha256=certificate_sha256,
            level=level,
            signed_at=signed_at,
            signer=signer,
        )


        pdf_signature.additional_properties = d
        return pdf_signature

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
