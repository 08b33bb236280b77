from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.cache_health_view import CacheHealthView
  from ..models.recorded_summary import RecordedSummary





T = TypeVar("T", bound="Health")



@_attrs_define
class Health:
    """ 
        Attributes:
            down (list[str]): Names of the dependencies that do not answer (`database`, `queue`, `storage`,
                `consumers`).
            status (str): `ok`, or `unavailable` with what is down.
            cache (CacheHealthView | None | Unset):
            recorded (None | RecordedSummary | Unset):
     """

    down: list[str]
    status: str
    cache: CacheHealthView | None | Unset = UNSET
    recorded: None | RecordedSummary | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.cache_health_view import CacheHealthView # noqa: PLC0415
        from ..models.recorded_summary import RecordedSummary # noqa: PLC0415
        down = self.down



        status = self.status

        cache: dict[str, Any] | None | Unset
        if isinstance(self.cache, Unset):
            cache = UNSET
        elif isinstance(self.cache, CacheHealthView):
            cache = self.cache.to_dict()
        else:
            cache = self.cache

        recorded: dict[str, Any] | None | Unset
        if isinstance(self.recorded, Unset):
            recorded = UNSET
        elif isinstance(self.recorded, RecordedSummary):
            recorded = self.recorded.to_dict()
        else:
            recorded = self.recorded


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "down": down,
            "status": status,
        })
        if cache is not UNSET:
            field_dict["cache"] = cache
        if recorded is not UNSET:
            field_dict["recorded"] = recorded

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.cache_health_view import CacheHealthView # noqa: PLC0415
        from ..models.recorded_summary import RecordedSummary # noqa: PLC0415
        d = dict(src_dict)
        down = cast(list[str], d.pop("down"))


        status = d.pop("status")

        def _parse_cache(data: object) -> CacheHealthView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                cache_type_1 = CacheHealthView.from_dict(data)



                return cache_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CacheHealthView | None | Unset, data)

        cache = _parse_cache(d.pop("cache", UNSET))


        def _parse_recorded(data: object) -> None | RecordedSummary | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                recorded_type_1 = RecordedSummary.from_dict(data)



                return recorded_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RecordedSummary | Unset, data)

        recorded = _parse_recorded(d.pop("recorded", UNSET))


        health = cls(
            down=down,
            status=status,
            cache=cache,
            recorded=recorded,
        )


        health.additional_properties = d
        return health

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
