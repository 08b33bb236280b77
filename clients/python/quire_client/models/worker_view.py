from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.worker_view_queues import WorkerViewQueues





T = TypeVar("T", bound="WorkerView")



@_attrs_define
class WorkerView:
    """ A worker process from the registry.

        Attributes:
            alive (bool): Whether it beat within the last 15 s (three heartbeats); `false` is a worker that
                stopped without saying so (killed, or its host is gone).
            heartbeat_at (str):
            host (str):
            name (str): `quire-<host>-<pid>-<random>`: also the `worker` of the jobs it runs.
            pid (int):
            queues (WorkerViewQueues): Queue -> attempts it runs at once.
            running (int): Attempts running at the last heartbeat.
            started_at (str):
            version (str): quire's version.
     """

    alive: bool
    heartbeat_at: str
    host: str
    name: str
    pid: int
    queues: WorkerViewQueues
    running: int
    started_at: str
    version: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.worker_view_queues import WorkerViewQueues # noqa: PLC0415
        alive = self.alive

        heartbeat_at = self.heartbeat_at

        host = self.host

        name = self.name

        pid = self.pid

        queues = self.queues.to_dict()

        running = self.running

        started_at = self.started_at

        version = self.version


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "alive": alive,
            "heartbeat_at": heartbeat_at,
            "host": host,
            "name": name,
            "pid": pid,
            "queues": queues,
            "running": running,
            "started_at": started_at,
            "version": version,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.worker_view_queues import WorkerViewQueues # noqa: PLC0415
        d = dict(src_dict)
        alive = d.pop("alive")

        heartbeat_at = d.pop("heartbeat_at")

        host = d.pop("host")

        name = d.pop("name")

        pid = d.pop("pid")

        queues = WorkerViewQueues.from_dict(d.pop("queues"))




        running = d.pop("running")

        started_at = d.pop("started_at")

        version = d.pop("version")

        worker_view = cls(
            alive=alive,
            heartbeat_at=heartbeat_at,
            host=host,
            name=name,
            pid=pid,
            queues=queues,
            running=running,
            started_at=started_at,
            version=version,
        )


        worker_view.additional_properties = d
        return worker_view

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
