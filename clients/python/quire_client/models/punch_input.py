from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="PunchInput")



@_attrs_define
class PunchInput:
    """ 
        Attributes:
            description (str):
            item (str):
            owner (str):
            severity (str): `low`, `medium`, `high` or `critical` (any case).
            due (datetime.date | None | Unset): `YYYY-MM-DD`.
     """

    description: str
    item: str
    owner: str
    severity: str
    due: datetime.date | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        description = self.description

        item = self.item

        owner = self.owner

        severity = self.severity

        due: None | str | Unset
        if isinstance(self.due, Unset):
            due = UNSET
        elif isinstance(self.due, datetime.date):
            due = self.due.isoformat()
        else:
            due = self.due


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "description": description,
            "item": item,
            "owner": owner,
            "severity": severity,
        })
        if due is not UNSET:
            field_dict["due"] = due

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        description = d.pop("description")

        item = d.pop("item")

        owner = d.pop("owner")

        severity = d.pop("severity")

        def _parse_due(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                due_type_0 = datetime.date.fromisoformat(data)



                return due_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        due = _parse_due(d.pop("due", UNSET))


        punch_input = cls(
            description=description,
            item=item,
            owner=owner,
            severity=severity,
            due=due,
        )

        return punch_input

