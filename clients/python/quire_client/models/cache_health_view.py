from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="CacheHealthView")



@_attrs_define
class CacheHealthView:
    """ 
        Attributes:
            channel (str): Where committed changes come from: `postgres` (`NOTIFY` from the database's
                triggers), `sqlite` (its invalidation log) or `off` (`cache.enabled = false`).
            up (bool): Whether changes arrive now. While not, nothing is cached: every read goes to the
                database.
     """

    channel: str
    up: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        channel = self.channel

        up = self.up


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "channel": channel,
            "up": up,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        channel = d.pop("channel")

        up = d.pop("up")

        cache_health_view = cls(
            channel=channel,
            up=up,
        )


        cache_health_view.additional_properties = d
        return cache_health_view

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
