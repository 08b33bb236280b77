from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.row_input import RowInput





T = TypeVar("T", bound="SectionInput")



@_attrs_define
class SectionInput:
    """ 
        Attributes:
            title (str):
            body (str | Unset): Free text shown before the results table.
            rows (list[RowInput] | Unset):
     """

    title: str
    body: str | Unset = UNSET
    rows: list[RowInput] | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.row_input import RowInput # noqa: PLC0415
        title = self.title

        body = self.body

        rows: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.rows, Unset):
            rows = []
            for rows_item_data in self.rows:
                rows_item = rows_item_data.to_dict()
                rows.append(rows_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "title": title,
        })
        if body is not UNSET:
            field_dict["body"] = body
        if rows is not UNSET:
            field_dict["rows"] = rows

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.row_input import RowInput # noqa: PLC0415
        d = dict(src_dict)
        title = d.pop("title")

        body = d.pop("body", UNSET)

        _rows = d.pop("rows", UNSET)
        rows: list[RowInput] | Unset = UNSET
        if _rows is not UNSET:
            rows = []
            for rows_item_data in _rows:
                rows_item = RowInput.from_dict(rows_item_data)



                rows.append(rows_item)


        section_input = cls(
            title=title,
            body=body,
            rows=rows,
        )

        return section_input

