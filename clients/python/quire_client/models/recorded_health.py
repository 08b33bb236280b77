from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.check_view import CheckView





T = TypeVar("T", bound="RecordedHealth")



@_attrs_define
class RecordedHealth:
    """ The latest recorded health: every check, and whether they are recent enough to trust.

        Attributes:
            checks (list[CheckView]):
            ok (bool): Every check passed and none is stale.
            stale (bool): The oldest check is older than `health.stale_after_secs` (the `health` schedule has
                not run: no scheduler or worker, or it is paused).
     """

    checks: list[CheckView]
    ok: bool
    stale: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.check_view import CheckView # noqa: PLC0415
        checks = []
        for checks_item_data in self.checks:
            checks_item = checks_item_data.to_dict()
            checks.append(checks_item)



        ok = self.ok

        stale = self.stale


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "checks": checks,
            "ok": ok,
            "stale": stale,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.check_view import CheckView # noqa: PLC0415
        d = dict(src_dict)
        checks = []
        _checks = d.pop("checks")
        for checks_item_data in (_checks):
            checks_item = CheckView.from_dict(checks_item_data)



            checks.append(checks_item)


        ok = d.pop("ok")

        stale = d.pop("stale")

        recorded_health = cls(
            checks=checks,
            ok=ok,
            stale=stale,
        )


        recorded_health.additional_properties = d
        return recorded_health

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
