from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.queue_counts import QueueCounts
  from ..models.recorded_health import RecordedHealth
  from ..models.worker_view import WorkerView





T = TypeVar("T", bound="StatusView")



@_attrs_define
class StatusView:
    """ 
        Attributes:
            queues (list[QueueCounts]):
            workers (list[WorkerView]): Worker processes: running ones, and for an hour those that stopped without saying
                so (`alive: false`).
            health (None | RecordedHealth | Unset):
     """

    queues: list[QueueCounts]
    workers: list[WorkerView]
    health: None | RecordedHealth | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.queue_counts import QueueCounts # noqa: PLC0415
        from ..models.recorded_health import RecordedHealth # noqa: PLC0415
        from ..models.worker_view import WorkerView # noqa: PLC0415
        queues = []
        for queues_item_data in self.queues:
            queues_item = queues_item_data.to_dict()
            queues.append(queues_item)



        workers = []
        for workers_item_data in self.workers:
            workers_item = workers_item_data.to_dict()
            workers.append(workers_item)



        health: dict[str, Any] | None | Unset
        if isinstance(self.health, Unset):
            health = UNSET
        elif isinstance(self.health, RecordedHealth):
            health = self.health.to_dict()
        else:
            health = self.health


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "queues": queues,
            "workers": workers,
        })
        if health is not UNSET:
            field_dict["health"] = health

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.queue_counts import QueueCounts # noqa: PLC0415
        from ..models.recorded_health import RecordedHealth # noqa: PLC0415
        from ..models.worker_view import WorkerView # noqa: PLC0415
        d = dict(src_dict)
        queues = []
        _queues = d.pop("queues")
        for queues_item_data in (_queues):
            queues_item = QueueCounts.from_dict(queues_item_data)



            queues.append(queues_item)


        workers = []
        _workers = d.pop("workers")
        for workers_item_data in (_workers):
            workers_item = WorkerView.from_dict(workers_item_data)



            workers.append(workers_item)


        def _parse_health(data: object) -> None | RecordedHealth | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                health_type_1 = RecordedHealth.from_dict(data)



                return health_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RecordedHealth | Unset, data)

        health = _parse_health(d.pop("health", UNSET))


        status_view = cls(
            queues=queues,
            workers=workers,
            health=health,
        )


        status_view.additional_properties = d
        return status_view

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
