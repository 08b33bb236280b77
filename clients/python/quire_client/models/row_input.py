from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="RowInput")



@_attrs_define
class RowInput:
    """ 
        Attributes:
            description (str):
            item (str):
            result (str): `pass`, `fail` or `na` (also `passed`, `failed`, `n.a.`, `n.a`, `n/a`; any case). Example: pass.
            actual (str | Unset):
            expected (str | Unset):
            remarks (str | Unset):
     """

    description: str
    item: str
    result: str
    actual: str | Unset = UNSET
    expected: str | Unset = UNSET
    remarks: str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        description = self.description

        item = self.item

        result = self.result

        actual = self.actual

        expected = self.expected

        remarks = self.remarks


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "description": description,
            "item": item,
            "result": result,
        })
        if actual is not UNSET:
            field_dict["actual"] = actual
        if expected is not UNSET:
            field_dict["expected"] = expected
        if remarks is not UNSET:
            field_dict["remarks"] = remarks

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        description = d.pop("description")

        item = d.pop("item")

        result = d.pop("result")

        actual = d.pop("actual", UNSET)

        expected = d.pop("expected", UNSET)

        remarks = d.pop("remarks", UNSET)

        row_input = cls(
            description=description,
            item=item,
            result=result,
            actual=actual,
            expected=expected,
            remarks=remarks,
        )

        return row_input

