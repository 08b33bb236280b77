from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.cache_health_view import CacheHealthView
  from ..models.cache_tier_view import CacheTierView





T = TypeVar("T", bound="CacheStatsView")



@_attrs_define
class CacheStatsView:
    """ The caches of the answering API process.

        Attributes:
            caches (list[CacheTierView]):
            channel (CacheHealthView):
     """

    caches: list[CacheTierView]
    channel: CacheHealthView
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.cache_health_view import CacheHealthView # noqa: PLC0415
        from ..models.cache_tier_view import CacheTierView # noqa: PLC0415
        caches = []
        for caches_item_data in self.caches:
            caches_item = caches_item_data.to_dict()
            caches.append(caches_item)



        channel = self.channel.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "caches": caches,
            "channel": channel,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.cache_health_view import CacheHealthView # noqa: PLC0415
        from ..models.cache_tier_view import CacheTierView # noqa: PLC0415
        d = dict(src_dict)
        caches = []
        _caches = d.pop("caches")
        for caches_item_data in (_caches):
            caches_item = CacheTierView.from_dict(caches_item_data)



            caches.append(caches_item)


        channel = CacheHealthView.from_dict(d.pop("channel"))




        cache_stats_view = cls(
            caches=caches,
            channel=channel,
        )


        cache_stats_view.additional_properties = d
        return cache_stats_view

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
