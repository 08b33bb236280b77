from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.field_type import FieldType
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="FieldSpec")



@_attrs_define
class FieldSpec:
    """ One declared template-specific input (`fields.<name>` in a submission).

        Attributes:
            name (str): 1 to 64 ASCII letters, digits or `_`.
            type_ (FieldType): The type of a declared input field.
            max_length (int | None | Unset): Characters, for text fields only (on another type it is a 422).
            required (bool | Unset):
     """

    name: str
    type_: FieldType
    max_length: int | None | Unset = UNSET
    required: bool | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        name = self.name

        type_ = self.type_.value

        max_length: int | None | Unset
        if isinstance(self.max_length, Unset):
            max_length = UNSET
        else:
            max_length = self.max_length

        required = self.required


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "name": name,
            "type": type_,
        })
        if max_length is not UNSET:
            field_dict["max_length"] = max_length
        if required is not UNSET:
            field_dict["required"] = required

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        type_ = FieldType(d.pop("type"))




        def _parse_max_length(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_length = _parse_max_length(d.pop("max_length", UNSET))


        required = d.pop("required", UNSET)

        field_spec = cls(
            name=name,
            type_=type_,
            max_length=max_length,
            required=required,
        )

        return field_spec

