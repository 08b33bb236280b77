from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.queue_counts_jobs import QueueCountsJobs





T = TypeVar("T", bound="QueueCounts")



@_attrs_define
class QueueCounts:
    """ Jobs in one queue by status.

        Attributes:
            jobs (QueueCountsJobs): Status -> number of jobs (statuses with none are left out).
            queue (str):
     """

    jobs: QueueCountsJobs
    queue: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.queue_counts_jobs import QueueCountsJobs # noqa: PLC0415
        jobs = self.jobs.to_dict()

        queue = self.queue


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "jobs": jobs,
            "queue": queue,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.queue_counts_jobs import QueueCountsJobs # noqa: PLC0415
        d = dict(src_dict)
        jobs = QueueCountsJobs.from_dict(d.pop("jobs"))




        queue = d.pop("queue")

        queue_counts = cls(
            jobs=jobs,
            queue=queue,
        )


        queue_counts.additional_properties = d
        return queue_counts

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
