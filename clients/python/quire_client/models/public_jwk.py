from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="PublicJwk")



@_attrs_define
class PublicJwk:
    """ An Ed25519 public key as a JSON Web Key (RFC 8037).

        Attributes:
            crv (str): `Ed25519`.
            kid (str):
            kty (str): `OKP`.
            x (str): The public key, base64url without padding.
     """

    crv: str
    kid: str
    kty: str
    x: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        crv = self.crv

        kid = self.kid

        kty = self.kty

        x = self.x


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "crv": crv,
            "kid": kid,
            "kty": kty,
            "x": x,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        crv = d.pop("crv")

        kid = d.pop("kid")

        kty = d.pop("kty")

        x = d.pop("x")

        public_jwk = cls(
            crv=crv,
            kid=kid,
            kty=kty,
            x=x,
        )


        public_jwk.additional_properties = d
        return public_jwk

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
