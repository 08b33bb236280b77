from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.verification_method import VerificationMethod





T = TypeVar("T", bound="DidDocument")



@_attrs_define
class DidDocument:
    """ A DID document (W3C DID Core) with one key, for `assertionMethod`.

        Attributes:
            context (list[str]): The DID Core context and the JSON Web Key 2020 suite's.
            assertion_method (list[str]): The keys that sign credentials: the `kid` of each credential's JOSE header.
            id (str): `did:web:` of the public base URL.
            verification_method (list[VerificationMethod]):
     """

    context: list[str]
    assertion_method: list[str]
    id: str
    verification_method: list[VerificationMethod]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.verification_method import VerificationMethod # noqa: PLC0415
        context = self.context



        assertion_method = self.assertion_method



        id = self.id

        verification_method = []
        for verification_method_item_data in self.verification_method:
            verification_method_item = verification_method_item_data.to_dict()
            verification_method.append(verification_method_item)




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "@context": context,
            "assertionMethod": assertion_method,
            "id": id,
            "verificationMethod": verification_method,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.verification_method import VerificationMethod # noqa: PLC0415
        d = dict(src_dict)
        context = cast(list[str], d.pop("@context"))


        assertion_method = cast(list[str], d.pop("assertionMethod"))


        id = d.pop("id")

        verification_method = []
        _verification_method = d.pop("verificationMethod")
        for verification_method_item_data in (_verification_method):
            verification_method_item = VerificationMethod.from_dict(verification_method_item_data)



            verification_method.append(verification_method_item)


        did_document = cls(
            context=context,
            assertion_method=assertion_method,
            id=id,
            verification_method=verification_method,
        )


        did_document.additional_properties = d
        return did_document

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
