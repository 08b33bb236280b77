from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="EquipmentInput")



@_attrs_define
class EquipmentInput:
    """ 
        Attributes:
            calibration_due (datetime.date): `YYYY-MM-DD`.
            name (str):
            model (str | Unset):
            serial (str | Unset):
     """

    calibration_due: datetime.date
    name: str
    model: str | Unset = UNSET
    serial: str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        calibration_due = self.calibration_due.isoformat()

        name = self.name

        model = self.model

        serial = self.serial


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "calibration_due": calibration_due,
            "name": name,
        })
        if model is not UNSET:
            field_dict["model"] = model
        if serial is not UNSET:
            field_dict["serial"] = serial

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        calibration_due = datetime.date.fromisoformat(d.pop("calibration_due"))




        name = d.pop("name")

        model = d.pop("model", UNSET)

        serial = d.pop("serial", UNSET)

        equipment_input = cls(
            calibration_due=calibration_due,
            name=name,
            model=model,
            serial=serial,
        )

        return equipment_input

