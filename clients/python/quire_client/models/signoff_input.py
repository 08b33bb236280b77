from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="SignoffInput")



@_attrs_define
class SignoffInput:
    """ 
        Attributes:
            company (str):
            date (datetime.date): `YYYY-MM-DD`.
            name (str):
            role (str):
            signature (None | str | Unset): Base64 JPEG, PNG or WebP (else 422).
     """

    company: str
    date: datetime.date
    name: str
    role: str
    signature: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        company = self.company

        date = self.date.isoformat()

        name = self.name

        role = self.role

        signature: None | str | Unset
        if isinstance(self.signature, Unset):
            signature = UNSET
        else:
            signature = self.signature


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "company": company,
            "date": date,
            "name": name,
            "role": role,
        })
        if signature is not UNSET:
            field_dict["signature"] = signature

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        company = d.pop("company")

        date = datetime.date.fromisoformat(d.pop("date"))




        name = d.pop("name")

        role = d.pop("role")

        def _parse_signature(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        signature = _parse_signature(d.pop("signature", UNSET))


        signoff_input = cls(
            company=company,
            date=date,
            name=name,
            role=role,
            signature=signature,
        )

        return signoff_input

