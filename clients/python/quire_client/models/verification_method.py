from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.public_jwk import PublicJwk





T = TypeVar("T", bound="VerificationMethod")



@_attrs_define
class VerificationMethod:
    """ A public key of a DID document.

        Attributes:
            controller (str):
            id (str): `{did}#key-<first 8 bytes of the key's sha256, hex>`.
            public_key_jwk (PublicJwk): An Ed25519 public key as a JSON Web Key (RFC 8037).
            type_ (str): `JsonWebKey2020`.
     """

    controller: str
    id: str
    public_key_jwk: PublicJwk
    type_: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.public_jwk import PublicJwk # noqa: PLC0415
        controller = self.controller

        id = self.id

        public_key_jwk = self.public_key_jwk.to_dict()

        type_ = self.type_


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "controller": controller,
            "id": id,
            "publicKeyJwk": public_key_jwk,
            "type": type_,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.public_jwk import PublicJwk # noqa: PLC0415
        d = dict(src_dict)
        controller = d.pop("controller")

        id = d.pop("id")

        public_key_jwk = PublicJwk.from_dict(d.pop("publicKeyJwk"))




        type_ = d.pop("type")

        verification_method = cls(
            controller=controller,
            id=id,
            public_key_jwk=public_key_jwk,
            type_=type_,
        )


        verification_method.additional_properties = d
        return verification_method

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
