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
            channel (str): `redis` (invalidations reach every process) or `local` (one process: SQLite).
            ttl_secs (int): Entry lifetime in force: short while the channel is down.
            up (bool): Whether invalidations are being received now.
     """

    channel: str
    ttl_secs: int
    up: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        channel = self.channel

        ttl_secs = self.ttl_secs

        up = self.up


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "channel": channel,
            "ttl_secs": ttl_secs,
            "up": up,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        channel = d.pop("channel")

        ttl_secs = d.pop("ttl_secs")

        up = d.pop("up")

        cache_health_view = cls(
            channel=channel,
            ttl_secs=ttl_secs,
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
