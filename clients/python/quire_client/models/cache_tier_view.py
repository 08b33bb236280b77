from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="CacheTierView")



@_attrs_define
class CacheTierView:
    """ One cache of this process since it started.

        Attributes:
            bytes_ (int): About how much memory the entries take.
            entries (int):
            hit_ratio (float): hits / (hits + misses), 0 when there were no reads.
            hits (int):
            invalidations (int): Committed changes that touched this cache.
            misses (int):
            name (str): `keys`, `templates`, `template_lists`, `verifications`, `registry`, `finished_jobs`.
     """

    bytes_: int
    entries: int
    hit_ratio: float
    hits: int
    invalidations: int
    misses: int
    name: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        bytes_ = self.bytes_

        entries = self.entries

        hit_ratio = self.hit_ratio

        hits = self.hits

        invalidations = self.invalidations

        misses = self.misses

        name = self.name


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "bytes": bytes_,
            "entries": entries,
            "hit_ratio": hit_ratio,
            "hits": hits,
            "invalidations": invalidations,
            "misses": misses,
            "name": name,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        bytes_ = d.pop("bytes")

        entries = d.pop("entries")

        hit_ratio = d.pop("hit_ratio")

        hits = d.pop("hits")

        invalidations = d.pop("invalidations")

        misses = d.pop("misses")

        name = d.pop("name")

        cache_tier_view = cls(
            bytes_=bytes_,
            entries=entries,
            hit_ratio=hit_ratio,
            hits=hits,
            invalidations=invalidations,
            misses=misses,
            name=name,
        )


        cache_tier_view.additional_properties = d
        return cache_tier_view

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
